//go:build !windows

package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockDockerTests takes the lock that serialises the test packages which
// create or remove meshgym-labelled Docker objects (sandbox/docker holds
// it while its tests run): `meshgym down` removes every such object.
func lockDockerTests() func() {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "meshgym-docker-tests.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return func() {}
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	return func() { f.Close() }
}
