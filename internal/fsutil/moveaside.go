// Package fsutil holds file helpers shared by the stores that must never
// lose a file a user (or an earlier meshgym) wrote: the labs progress
// store and the kind cluster registry.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxBackups bounds the search for a free .bad name.
const MaxBackups = 1000

// MoveAside moves path to the first free name of path.bad, path.bad.1,
// path.bad.2, … without overwriting an existing backup (a hard link fails
// when the name appeared meanwhile; file systems without links fall back
// to rename), and returns the name it used.
func MoveAside(path string) (string, error) {
	for i := 0; i < MaxBackups; i++ {
		bad := path + ".bad"
		if i > 0 {
			bad = fmt.Sprintf("%s.bad.%d", path, i)
		}
		if _, err := os.Lstat(bad); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		err := os.Link(path, bad)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err == nil {
			if err := os.Remove(path); err != nil {
				_ = os.Remove(bad)
				return "", err
			}
			return bad, nil
		}
		if err := os.Rename(path, bad); err != nil {
			return "", err
		}
		return bad, nil
	}
	return "", fmt.Errorf("%s.bad through %s.bad.%d all exist; delete old backups", path, path, MaxBackups-1)
}

// WriteAtomic writes data to path through a temporary file in the same
// directory (named by pattern, as os.CreateTemp) that is given mode,
// synced and renamed over path, so a reader sees the old file or the new
// one, never a half-written one. On error the temporary file is removed;
// the errors are os's (the caller words them for the user).
func WriteAtomic(path, pattern string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), pattern)
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Chmod(mode)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
	}
	return werr
}
