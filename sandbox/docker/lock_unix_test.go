//go:build !windows

package docker_test

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockDockerTests takes the lock that serialises the test packages which
// create or remove meshgym-labelled Docker objects (`meshgym down` in
// cmd/meshgym removes every one of them).
func lockDockerTests() func() {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "meshgym-docker-tests.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return func() {}
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	return func() { f.Close() }
}
