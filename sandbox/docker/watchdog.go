package docker

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WatchdogCommand is the argument that runs meshgym as the Docker
// watchdog: `meshgym docker-watchdog --run ID --owner-pid PID` (a hidden
// command; cmd/meshgym registers it and calls WatchdogMain).
const WatchdogCommand = "docker-watchdog"

// watchdogDone is what meshgym writes on the watchdog's stdin after a
// clean teardown.
const watchdogDone = "done"

// watchdogSweepTimeout bounds the watchdog's cleanup.
const watchdogSweepTimeout = 60 * time.Second

// WatchdogMain is the watchdog process: it reads its stdin (a pipe from
// the meshgym that started it) until EOF. When meshgym wrote "done" first
// (a clean teardown) it exits 0 at once; otherwise meshgym died (crashed,
// SIGKILLed) and it removes every container, network and volume labelled
// with the run (LabelRun) and the owner's PID (LabelOwnerPID), twice two
// seconds apart (a create in flight when meshgym died lands after the
// first pass), then exits: 0 when clean, 1 when something could not be
// removed, 2 on bad arguments. args are the arguments after
// WatchdogCommand: --run ID --owner-pid PID. It ignores SIGINT and SIGHUP:
// a Ctrl-C meant for meshgym must not stop the cleanup.
func WatchdogMain(args []string) int {
	fs := flag.NewFlagSet(WatchdogCommand, flag.ContinueOnError)
	run := fs.String("run", "", "run ID (label "+LabelRun+")")
	owner := fs.Int("owner-pid", 0, "PID of the meshgym that owns the run (label "+LabelOwnerPID+")")
	if err := fs.Parse(args); err != nil || *run == "" || *owner <= 0 {
		fmt.Fprintln(os.Stderr, "usage: meshgym docker-watchdog --run ID --owner-pid PID (started by meshgym's Docker platform)")
		return 2
	}
	signal.Ignore(os.Interrupt, syscall.SIGHUP)
	b, _ := io.ReadAll(os.Stdin)
	if strings.Contains(string(b), watchdogDone) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "%s watchdog: meshgym (pid %d) ended without a clean teardown; removing run %s\n",
		time.Now().Format(time.RFC3339), *owner, *run)
	ctx, cancel := context.WithTimeout(context.Background(), watchdogSweepTimeout)
	defer cancel()
	cli, err := newClient()
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchdog:", err)
		return 1
	}
	defer cli.Close()
	f := labelFilter(LabelManaged, "true", LabelRun, *run, LabelOwnerPID, strconv.Itoa(*owner))
	var last error
	for pass := 0; pass < 2; pass++ {
		if pass > 0 {
			time.Sleep(2 * time.Second)
		}
		r, err := removeLabelled(ctx, cli, f)
		if !r.Empty() {
			fmt.Fprintf(os.Stderr, "watchdog: removed %s\n", r)
		}
		last = err
		if err != nil {
			fmt.Fprintln(os.Stderr, "watchdog:", err)
		}
	}
	if last != nil {
		return 1
	}
	return 0
}

// watchdog is meshgym's end of a running watchdog process.
type watchdog struct {
	w   *os.File
	cmd *exec.Cmd
}

// startWatchdog starts command (the executable and its leading arguments,
// e.g. [meshgym docker-watchdog]) detached, with a pipe on its stdin and
// logPath as its stdout and stderr.
func startWatchdog(command []string, runID string, logPath string) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	defer r.Close()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	defer logf.Close()
	args := append(append([]string{}, command[1:]...), "--run", runID, "--owner-pid", strconv.Itoa(os.Getpid()))
	cmd := exec.Command(command[0], args...)
	cmd.Stdin = r
	cmd.Stdout = logf
	cmd.Stderr = logf
	detach(cmd)
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start watchdog %s: %w", command[0], err)
	}
	// Reap it whenever it ends.
	go cmd.Wait()
	return &watchdog{w: w, cmd: cmd}, nil
}

// release ends the watchdog: clean says the teardown removed everything
// (it exits without doing anything); otherwise closing the pipe makes it
// clean up the run.
func (wd *watchdog) release(clean bool) {
	if wd == nil || wd.w == nil {
		return
	}
	if clean {
		io.WriteString(wd.w, watchdogDone+"\n")
	}
	wd.w.Close()
	wd.w = nil
}
