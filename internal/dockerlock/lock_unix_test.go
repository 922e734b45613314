//go:build unix

package dockerlock

import (
	"path/filepath"
	"testing"
	"time"
)

// TestLockExcludes checks that a second Lock blocks until the first holder
// unlocks. flock(2) locks belong to the open file description, so two opens
// in one process exclude each other just as two test binaries do. It locks
// a file of its own: the shared one may be held by other test binaries.
func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), lockFile)
	unlock := lockAt(path)
	got := make(chan struct{})
	go func() {
		u2 := lockAt(path)
		close(got)
		u2()
	}()
	select {
	case <-got:
		unlock()
		t.Fatal("second Lock returned while the first was held")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("second Lock did not return after unlock")
	}
}
