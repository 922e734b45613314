//go:build unix

package scenarios

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Load refuses a named pipe, a device, a socket or a loop of symbolic
// links at once, with one line, without reading from it.
func TestLoadSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "f.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	loop := filepath.Join(dir, "x.yaml")
	if err := os.Symlink("x.yaml", loop); err != nil {
		t.Fatal(err)
	}
	// Socket paths are short (sun_path): make one outside t.TempDir.
	sdir, err := os.MkdirTemp("", "mg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sdir) })
	sock := filepath.Join(sdir, "s.yaml")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer ln.Close()

	const hint = "; hint: give the path of a scenario file"
	tests := []struct{ path, want string }{
		{fifo, fifo + ": not a regular file (a named pipe)" + hint},
		{"/dev/zero", "/dev/zero: not a regular file (a device)" + hint},
		{"/dev/urandom", "/dev/urandom: not a regular file (a device)" + hint},
		{sock, sock + ": not a regular file (a socket)" + hint},
		{loop, loop + ": cannot read the file: too many levels of symbolic links; hint: the path is a loop of symbolic links: point it at a scenario file"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			if _, err := os.Stat(tt.path); tt.path != loop && err != nil {
				t.Skipf("%v", err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Load(tt.path)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || err.Error() != tt.want {
					t.Errorf("got  %v\nwant %s", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Load blocked") // the goroutine stays blocked on the pipe
			}
			if err := CheckFile(tt.path); err == nil || err.Error() != tt.want {
				t.Errorf("CheckFile: got %v\nwant %s", err, tt.want)
			}
		})
	}
}
