//go:build unix

package dockerlock

import (
	"os"
	"path/filepath"
	"syscall"
)

// Lock blocks until it holds the exclusive lock on
// os.TempDir()/meshgym-docker-tests.lock, then returns the function that
// releases it. It never fails: if the file cannot be opened or locked,
// Lock returns at once with a no-op unlock, so tests still run (unserialised).
func Lock() (unlock func()) {
	return lockAt(filepath.Join(os.TempDir(), lockFile))
}

// lockAt is Lock on the file at path (created when missing).
func lockAt(path string) (unlock func()) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() { f.Close() }
}
