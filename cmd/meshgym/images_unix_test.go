//go:build !windows

package main

import "syscall"

// mkfifo makes a named pipe at path, for TestImagesSaveRefusesNonRegular.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
