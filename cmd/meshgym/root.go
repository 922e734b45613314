package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"meshgym/dataplane"
	"meshgym/internal/version"
	"meshgym/sampleapps"
	"meshgym/scenarios"
)

// Exit codes, as documented in --help.
const (
	exitOK          = 0
	exitFailed      = 1 // a success condition failed
	exitUsage       = 2 // bad input or usage
	exitPlatform    = 3 // the platform failed
	exitInterrupted = 130
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// Main runs the CLI with args (without the program name) and returns the
// process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	// Hidden component modes: the local platform re-executes meshgym as a
	// sidecar or sample app when the lean executables are not installed.
	if len(args) > 0 && (args[0] == "sidecar" || args[0] == "app") {
		os.Args = append([]string{os.Args[0] + " " + args[0]}, args[1:]...)
		if args[0] == "sidecar" {
			return dataplane.Main()
		}
		return sampleapps.Main()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C (or SIGTERM) cancels ctx and everything cleans up;
	// a second one is no longer caught and ends meshgym at once (what is
	// left then: 'meshgym down', and the Docker platform's watchdog).
	go func() { <-ctx.Done(); stop() }()
	defer closeLoader()
	out := &errWriter{w: stdout}
	root := newRoot(out, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil && out.err != nil {
		// Output that could not be written (a full disk, a closed pipe)
		// is a failure, not a success with nothing shown.
		fmt.Fprintln(stderr, "meshgym: write output: "+oneLine(out.err.Error()))
		return exitPlatform
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		var probs scenarios.Errors
		if errors.As(ee.err, &probs) {
			// One line per problem in the file, every problem at once.
			for _, p := range probs {
				fmt.Fprintln(stderr, "meshgym: "+oneLine(p.Error()))
			}
		} else if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "meshgym: "+oneLine(ee.err.Error()))
		}
		return ee.code
	}
	// Anything else cobra returns is a usage problem (unknown flag or command).
	fmt.Fprintln(stderr, "meshgym: "+cobraLine(err.Error())+"; see 'meshgym --help'")
	return exitUsage
}

// errWriter remembers the first error writing to w and drops what
// follows it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// cobraLine folds cobra's multi-line "Did you mean this?" into one line.
func cobraLine(s string) string {
	msg, sugg, ok := strings.Cut(s, "Did you mean this?")
	if !ok {
		return oneLine(s)
	}
	return oneLine(msg) + "; did you mean " + strings.Join(strings.Fields(sugg), " or ") + "?"
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.ReplaceAll(s, "\n", "; ")
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "meshgym",
		Short: "A lab for learning and comparing service-mesh patterns",
		Long: `meshgym deploys a small sample system (API → Payments → Currency), injects
the errors and latency an exercise asks for, measures it under load without
a mesh pattern (before), applies the pattern (after), measures again, and
shows both side by side with PASS/FAIL for every success condition.

Start with:
  meshgym list                     the built-in scenarios
  meshgym run retries -d 20s       the retry exercise, 20 s per phase
  meshgym explain retries          how a scenario is read (long form)

Exit codes: 0 every condition passed, 1 a condition failed,
2 bad input or usage, 3 the platform failed, 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.SetVersionTemplate("meshgym {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v; see '%s --help'", err, c.CommandPath())
	})
	root.AddCommand(newRunCmd(), newListCmd(), newExplainCmd(), newCompareCmd(), newResultsCmd(), newPluginCmd(), newVersionCmd())
	for _, f := range moreCommands {
		root.AddCommand(f())
	}
	if rootRun != nil {
		root.Args = cobra.NoArgs
		root.RunE = rootRun
	}
	return root
}

// moreCommands are commands that register themselves from their own file
// (lab, images, doctor, down), so each lives beside its own code.
var moreCommands []func() *cobra.Command

// rootRun is what `meshgym` with no arguments does (the TUI file sets it:
// open the lab browser on a terminal, list the labs otherwise); nil shows
// the help.
var rootRun func(cmd *cobra.Command, args []string) error

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print meshgym's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), "meshgym", version.String())
			return nil
		},
	}
}
