//go:build !plan9

package scenarios

import (
	"errors"
	"syscall"
)

// isSymlinkLoop reports whether err is "too many levels of symbolic links".
func isSymlinkLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }
