//go:build unix

package plugins

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup makes cmd start in a process group of its own (pgid =
// its pid), so that killProcessGroup reaches every process the plugin
// started, and the terminal's Ctrl-C reaches the host only.
func ownProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// killProcessGroup sends SIGKILL to the process group pid leads (the
// plugin and every child it started that did not leave the group); a group
// already gone is no error.
func killProcessGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
