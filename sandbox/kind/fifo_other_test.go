//go:build !unix

package kind

import "errors"

func mkfifo(string) error { return errors.New("no mkfifo on this platform") }
