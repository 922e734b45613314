package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"meshgym/engine"
	"meshgym/labs"
	"meshgym/report"
	"meshgym/results"
	"meshgym/scenarios"
	"meshgym/tui"
	"meshgym/tui/labview"
)

func init() {
	moreCommands = append(moreCommands, newLabCmd)
	// `meshgym` alone: the lab browser on a terminal, the list of labs
	// otherwise.
	rootRun = func(c *cobra.Command, _ []string) error {
		if !onTerminal(c) {
			printLabList(c.OutOrStdout())
			return nil
		}
		return openTUI(c, "", &labFlags{})
	}
}

// onTerminal reports whether stdin and stdout are terminals (the TUI needs
// both); tests replace it.
var onTerminal = func(c *cobra.Command) bool {
	return term.IsTerminal(int(os.Stdin.Fd())) && isTTY(c.OutOrStdout())
}

type labFlags struct {
	list     bool
	port     int
	mesh     string
	platform *string // --platform (nil: the local platform)
}

func newLabCmd() *cobra.Command {
	f := &labFlags{}
	c := &cobra.Command{
		Use:   "lab [NAME]",
		Short: "Open a guided lab in the terminal (meshgym alone opens the lab browser)",
		Long: `Open a guided lab: read the problem, predict what a run will measure, change
a knob and run, see the before/after view, and read why the numbers came out
so. Progress is saved per user and resumed (press r in a lab to reset it).

Without NAME the lab browser opens. Without a terminal (piped, CI) it prints
the list of labs, or NAME's steps as text with the equivalent CLI commands.`,
		Example: `  meshgym lab                  the lab browser
  meshgym lab retries          the retries lab
  meshgym lab retries --port 0 when port 8200 is taken
  meshgym lab retries --platform docker   runs in containers (see 'meshgym doctor')
  meshgym lab --list           the labs, one a line`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("%s expects at most one lab NAME (got %s); see 'meshgym lab --list'", c.CommandPath(), plural(len(args), "argument"))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if f.port < 0 || f.port > 65535 {
				return usageErr("--port: must be from 0 to 65535 (got %d); 0 picks a free port", f.port)
			}
			if err := checkKindMesh(*f.platform, f.mesh); err != nil {
				return err
			}
			// Only the flags are checked here; the run's platform is made at
			// the first run.
			if _, err := newPlatform(*f.platform, c, f.mesh); err != nil {
				return err
			}
			if f.list || (len(args) == 0 && !onTerminal(c)) {
				printLabList(c.OutOrStdout())
				return nil
			}
			name := ""
			if len(args) == 1 {
				l, err := labs.Get(args[0])
				if err != nil {
					return usageErr("no lab named %q; the labs are: %s", args[0], strings.Join(labNames(), ", "))
				}
				name = l.Name
				if !onTerminal(c) {
					printLabText(c.OutOrStdout(), l, changedFlags(c, "platform", "mesh", "cluster", "image-source", "port")...)
					return nil
				}
			}
			return openTUI(c, name, f)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.list, "list", false, "print the labs (name, title, minutes, summary) and exit")
	fl.IntVar(&f.port, "port", 0, "port of the entry service; 0 = any free port (default: 8200, or a free one when 8200 is taken)")
	f.platform = addPlatformFlag(c)
	fl.StringVar(&f.mesh, "mesh", "", "mesh to apply the pattern with: a semantics profile of the builtin mesh (book, envoy, istio, linkerd, consul, kuma; a release with @, e.g. istio@1.23) or a plugin's name (default: book); with --platform kind, the real mesh: istio, linkerd or consul")
	return c
}

func labNames() []string {
	var out []string
	for _, l := range labs.All() {
		out = append(out, l.Name)
	}
	return out
}

// printLabList prints every lab and how to run one.
func printLabList(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tTITLE\tMINUTES\tSUMMARY")
	for _, l := range labs.All() {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", l.Name, l.Title, l.Minutes, l.Summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nIn a terminal, open the lab browser with: meshgym   (or one lab: meshgym lab NAME)")
	fmt.Fprintln(w, "Without a terminal, read a lab with 'meshgym lab NAME | less' and run its")
	fmt.Fprintln(w, "scenario with the CLI, e.g.: meshgym run retries -d 8s")
}

// printLabText prints a lab's steps as plain text with the equivalent CLI
// command of each run step. Measured placeholders read "(measured in your
// run)"; knob placeholders and commands use labs.Lab.CLISettings (earlier
// run steps at their solution values).
func printLabText(w io.Writer, l *labs.Lab, flags ...string) {
	fmt.Fprintf(w, "%s — %s (about %d min)\n", l.Title, l.Summary, l.Minutes)
	fmt.Fprintf(w, "Open it in a terminal with: meshgym lab %s\n", l.Name)
	for i, st := range l.Steps {
		fmt.Fprintf(w, "\n── Step %d of %d: %s (%s)\n\n", i+1, len(l.Steps), st.Title, st.Kind)
		fmt.Fprintln(w, strings.TrimSpace(l.PlainBody(i)))
		switch st.Kind {
		case labs.KindPredict:
			fmt.Fprintf(w, "\n%s\n", st.Question)
			for j, c := range st.Choices {
				fmt.Fprintf(w, "  %d. %s\n", j+1, c.Text)
			}
		case labs.KindRun:
			for _, k := range st.Knobs {
				fmt.Fprintf(w, "\nKnob %s — %s: one of %s; the lab starts at %s.\n", k.Key, k.Label, strings.Join(k.Values, ", "), k.Default)
			}
			if len(st.Checks) > 0 {
				fmt.Fprintln(w, "\nThe lab's checks (the step is done when every one holds):")
				for _, c := range st.Checks {
					ph := c.Phase
					if ph == "" {
						ph = "after"
					}
					fmt.Fprintf(w, "  %s   (%s phase)\n", c.Condition, ph)
				}
			}
			fmt.Fprintf(w, "\nRun it with the CLI:\n  %s\n", labCommand(l, l.CLISettings(i), flags...))
			fmt.Fprintln(w, "(meshgym run judges the scenario's own conditions, the book's, not the lab's")
			fmt.Fprintln(w, "checks above: compare the checks with the numbers of its report by hand.)")
			if len(st.Solution) > 0 {
				fmt.Fprintf(w, "Solution: --set %s\n", strings.Join(st.Solution, " --set "))
			}
		}
	}
}

// labCommand is the `meshgym run` command line of a lab's run with the
// given Set assignments (labs.Lab.CLISettings) and the user's own flags
// ("--platform kind", "--mesh istio" …).
func labCommand(l *labs.Lab, settings []string, flags ...string) string {
	parts := []string{"meshgym run", l.Scenario}
	for _, s := range settings {
		parts = append(parts, "--set "+s)
	}
	parts = append(parts, flags...)
	return strings.Join(parts, " ")
}

// changedFlags renders the named flags the user set as "--name value".
func changedFlags(c *cobra.Command, names ...string) []string {
	var out []string
	for _, n := range names {
		if f := c.Flags().Lookup(n); f != nil && f.Changed {
			out = append(out, "--"+n+" "+f.Value.String())
		}
	}
	return out
}

// openTUI runs the TUI on the terminal, at lab name ("" = the browser).
// Runs use the normal results store and the entry port as `meshgym run`
// does; the TUI tears every run down before it returns.
func openTUI(c *cobra.Command, name string, f *labFlags) error {
	stderr := c.ErrOrStderr()
	var saver tui.Saver
	var progress *labs.Progress
	if store, err := labs.DefaultStore(); err != nil {
		fmt.Fprintf(stderr, "meshgym: your lab progress will not be saved: %s\n", oneLine(err.Error()))
	} else {
		saver = store
		if progress, err = store.Load(); err != nil {
			fmt.Fprintf(stderr, "meshgym: starting with no saved progress: %s\n", oneLine(err.Error()))
			progress = nil
		}
	}
	opts := engine.Options{OpenMesh: openMesh}
	platformName := ""
	if f.platform != nil {
		platformName = *f.platform
	}
	setMesh(&opts, f.mesh, platformName)
	if f.platform != nil {
		p, err := newPlatform(*f.platform, c, opts.Mesh)
		if err != nil {
			return err
		}
		opts.Platform = p
	}
	switch {
	case c.Flags().Changed("port") && f.port == 0:
		opts.EntryPort = -1
	case c.Flags().Changed("port"):
		opts.EntryPort, opts.EntryPortStrict = f.port, true
	}
	style := labview.StyleDark
	if os.Getenv("NO_COLOR") != "" {
		lipgloss.SetColorProfile(termenv.Ascii)
		style = labview.StyleASCII
	}
	cfg := tui.Config{
		Labs:     labs.All(),
		Progress: progress,
		Start:    name,
		Runner: tui.RunnerFunc(func(ctx context.Context, sc *scenarios.Scenario, events chan<- engine.Event) (*engine.Result, error) {
			res, err := engine.Run(ctx, sc, opts, events)
			writeReport(res)
			return res, err
		}),
		Saver:         saver,
		Results:       results.Open(""),
		MarkdownStyle: style,
	}
	return tuiExit(tui.Run(c.Context(), cfg))
}

// tuiExit maps the TUI's end to the CLI's exit: a run the learner
// stopped with ctrl+c, or a signal, exits 130 with one line on stderr
// (as any interrupted run does); a terminal failure exits 3.
func tuiExit(err error) error {
	switch {
	case errors.Is(err, tui.ErrRunStopped):
		return &exitError{code: exitInterrupted, err: errors.New("run stopped; everything it started was torn down")}
	case errors.Is(err, tea.ErrProgramKilled), errors.Is(err, tea.ErrInterrupted):
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; every run was torn down")}
	case err != nil:
		return &exitError{code: exitPlatform, err: fmt.Errorf("terminal UI: %w", err)}
	}
	return nil
}

// writeReport writes the human report beside result.json in the run
// directory, as `meshgym run` does (also for a run that stopped early:
// what was measured until then). It runs inside the TUI's runner
// command, never in the UI's Update.
func writeReport(res *engine.Result) {
	if res == nil || res.RunDir == "" {
		return
	}
	var buf bytes.Buffer
	report.Text(&buf, res, report.TextOptions{})
	_ = os.WriteFile(filepath.Join(res.RunDir, "report.txt"), buf.Bytes(), 0o644)
}
