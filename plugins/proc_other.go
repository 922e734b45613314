//go:build !unix && !windows

package plugins

import "os/exec"

// ownProcessGroup does nothing on this platform.
func ownProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup does nothing on this platform: the plugin process
// itself is killed through its *os.Process.
func killProcessGroup(pid int) {}
