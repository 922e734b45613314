//go:build windows

package local

import (
	"os/exec"
	"syscall"
)

// detach starts the child in a new process group so that Ctrl-C in the
// console reaches only meshgym, which then tears the children down.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
