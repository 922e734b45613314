//go:build !unix

package kind

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// staleLock is the age after which a lock file is taken to be left by a
// crashed process and removed.
const staleLock = 2 * time.Minute

// lockFile takes an exclusive lock by creating path with O_EXCL, retrying
// every 20 ms for up to staleLock+10s; a lock file older than staleLock is
// removed as left by a crash. It returns the function that releases it.
func lockFile(path string) (func(), error) {
	deadline := time.Now().Add(staleLock + 10*time.Second)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if st, serr := os.Stat(path); serr == nil && time.Since(st.ModTime()) > staleLock {
			_ = os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s is held by another meshgym; delete it if none is running", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive cannot tell here; it says yes, so only the age of an
// entry being created (creatingGrace) marks it as left by a crash.
func processAlive(pid int) bool { return pid > 0 }
