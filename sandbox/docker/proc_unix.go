//go:build !windows

package docker

import (
	"errors"
	"os/exec"
	"syscall"
)

// processAlive reports whether a process with this PID exists (signal 0;
// EPERM means it exists but belongs to another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// detach puts the watchdog in its own session, so that a Ctrl-C sent to
// meshgym's process group does not reach it.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
