//go:build !windows

package local

import (
	"os/exec"
	"syscall"
)

// detach puts the child in its own process group so that a Ctrl-C in the
// terminal reaches only meshgym, which then tears the children down in order
// (and reports an interrupt, not a component crash).
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
