package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// checkLocal checks the local platform: which executables it would run,
// whether the entry port is free, and that a child process starts and
// prints its READY line (architecture.md, "Lean executables and process
// rules").
func checkLocal(ctx context.Context, o Options) []Check {
	exe := o.Executables
	var out []Check

	c := Check{Group: PlatformLocal, Name: "executables", Status: StatusOK}
	if exe.Note == "" {
		c.Detail = "lean meshgym-app and meshgym-sidecar in " + filepath.Dir(exe.App[0])
	} else {
		c.Status = StatusWarn
		c.Detail = "lean executables not found; components run as `meshgym sidecar|app` (memory figures include meshgym's larger binary)"
		c.Fix = "make build (puts meshgym-app and meshgym-sidecar next to meshgym in ./bin), or put them on PATH"
	}
	out = append(out, c)

	out = append(out, checkPort(o.EntryPort))
	out = append(out, checkChild(ctx, exe.App))
	return out
}

// childTimeout is ChildTimeout; tests shorten it.
var childTimeout = ChildTimeout

// checkPort reports whether the entry port is free on 127.0.0.1. A taken
// port is a warning: runs fall back to a free port and say so.
func checkPort(port int) Check {
	c := Check{Group: PlatformLocal, Name: "port " + strconv.Itoa(port), Status: StatusOK}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		c.Status = StatusWarn
		c.Detail = fmt.Sprintf("127.0.0.1:%d is taken (%s); runs use a free port instead and print it", port, shortNetErr(err))
		c.Fix = fmt.Sprintf("stop what listens on %d (e.g. `ss -ltnp 'sport = :%d'` shows it), or choose another with run --port", port, port)
		return c
	}
	l.Close()
	c.Detail = fmt.Sprintf("127.0.0.1:%d is free for the entry service", port)
	return c
}

func shortNetErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// checkChild starts the sample app as the local platform does (stdin a
// pipe, listening on a free loopback port), waits for its READY line,
// then closes stdin, which makes it exit. The process is killed if it
// outlives the check.
func checkChild(ctx context.Context, app []string) Check {
	c := Check{Group: PlatformLocal, Name: "child process", Status: StatusOK}
	detail, err := startChild(ctx, app)
	if err != nil {
		c.Status = StatusFail
		c.Detail = "cannot start " + filepath.Base(app[0]) + ": " + oneLine(err.Error())
		c.Fix = "check that " + app[0] + " is executable and not blocked (noexec mount, antivirus, a sandbox without fork); `make build` rebuilds it"
		if ctx.Err() != nil {
			c.Fix = "run meshgym doctor again (the check was interrupted or ran out of time)"
		}
		return c
	}
	c.Detail = detail
	return c
}

// startChild runs app with --listen 127.0.0.1:0 and returns a summary
// once it printed READY; it kills the process on every path.
func startChild(ctx context.Context, app []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, childTimeout)
	defer cancel()
	args := append(append([]string{}, app[1:]...), "--listen", "127.0.0.1:0", "--name", "doctor-probe")
	cmd := exec.Command(app[0], args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				lines <- sc.Text()
				break
			}
		}
		// Drain the rest so the child never blocks on a full pipe.
		for sc.Scan() {
		}
		exited <- cmd.Wait()
	}()
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case line := <-lines:
		took := time.Since(start)
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			cmd.Process.Kill()
			<-exited
			return "", fmt.Errorf("started, but did not exit within 2 s of its stdin closing (%s)", line)
		}
		return fmt.Sprintf("started %s, READY after %d ms, exited when its stdin closed", filepath.Base(app[0]), took.Milliseconds()), nil
	case err := <-exited:
		msg := "exited before READY"
		if err != nil {
			msg += " (" + err.Error() + ")"
		}
		if t := stderr.String(); t != "" {
			msg += ": " + t
		}
		return "", errors.New(msg)
	case <-ctx.Done():
		cmd.Process.Kill()
		stop()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", errors.New("interrupted before its READY line")
		}
		return "", fmt.Errorf("no READY line within %v", childTimeout)
	}
}

// tailBuffer keeps the last line written to it (for an error message).
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimSpace(string(t.b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
