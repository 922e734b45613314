//go:build windows

package plugins

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a new process group
// (CREATE_NEW_PROCESS_GROUP), so that the console's Ctrl-C reaches the host
// only.
func ownProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= syscall.CREATE_NEW_PROCESS_GROUP
}

// killProcessGroup does nothing on Windows: the plugin process itself is
// killed through its *os.Process (exec.Cmd.Cancel and go-plugin's Kill);
// its children are not (that would need a job object).
func killProcessGroup(pid int) {}
