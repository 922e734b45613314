//go:build windows

package main

import "errors"

// mkfifo: Windows has no named pipes in the file system; the test skips
// the FIFO case.
func mkfifo(string) error { return errors.New("no FIFOs on Windows") }
