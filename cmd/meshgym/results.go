package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"

	"meshgym/engine"
	"meshgym/report"
	"meshgym/results"
	"meshgym/smp"
)

// newResultsCmd is `meshgym results`: list, show and export the runs in the
// local results store (.meshgym/runs, or $MESHGYM_RESULTS, or
// --results-dir).
func newResultsCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "results",
		Short: "List, show and export earlier runs (the local results store)",
		Long: `Every 'meshgym run' keeps its result in a run directory under .meshgym/runs
(result.json, report.txt and the components' logs). 'meshgym results' lists
those runs, prints one again, or exports it as JSON, as an HTML page with
plots, or as Service Mesh Performance (SMP) results.

A run is named by its ID (the run directory's name, e.g.
20261129-140538-retries), by any unique start of it (20261129-1405), or by
"last" for the newest run.

The store is .meshgym/runs in the current directory; $MESHGYM_RESULTS or
--results-dir point elsewhere.`,
		Example: `  meshgym results list
  meshgym results show last
  meshgym results show 20261129-1405 --output json
  meshgym results export last --format html -o retries.html
  meshgym results export last --format smp > smp.json`,
		Args: exactArgs(0, "a subcommand: list, show or export"),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.PersistentFlags().StringVar(&dir, "results-dir", "", "directory of run directories (default $"+results.EnvDir+", else "+results.DefaultDir+")")
	store := func() *results.Store { return results.Open(dir) }
	c.AddCommand(newResultsListCmd(store), newResultsShowCmd(store), newResultsExportCmd(store))
	return c
}

func newResultsListCmd(store func() *results.Store) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the runs, newest first",
		Long: `List the runs in the results store, newest first: ID, start time,
scenario, mesh, platform and result (PASS, FAIL, STOPPED for a run the
user interrupted, or ERROR for a run that stopped early for another reason,
with the verdict counts). Run directories without a readable
result.json (a run that crashed) are left out with a note on stderr.`,
		Example: "  meshgym results list\n  meshgym results list --output json | jq '.[0].id'",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageErr("--output: unknown format %q; use text or json", output)
			}
			s := store()
			sums, skipped, err := s.Scan()
			if err != nil {
				return resultsStoreErr(err)
			}
			for _, sk := range skipped {
				fmt.Fprintf(c.ErrOrStderr(), "note: skipped %s: %s\n", filepath.Join(s.Dir, sk.ID), sk.Reason)
			}
			out := &resultsOut{w: c.OutOrStdout()}
			if output == "json" {
				if sums == nil {
					sums = []results.Summary{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(sums); err != nil {
					return out.fail(err)
				}
				return nil
			}
			if len(sums) == 0 && len(skipped) > 0 {
				fmt.Fprintf(c.ErrOrStderr(), "no readable runs in %s (%d skipped, see above)\n", s.Dir, len(skipped))
				return nil
			}
			if len(sums) == 0 {
				fmt.Fprintf(c.ErrOrStderr(), "no runs in %s yet; 'meshgym run retries' makes one\n", s.Dir)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWHEN\tSCENARIO\tMESH\tPLATFORM\tRESULT")
			for _, x := range sums {
				when := "—"
				if !x.Started.IsZero() {
					when = x.Started.Local().Format("2006-01-02 15:04")
				}
				mesh := resultsCellText(x.Mesh, resultsCellWidth)
				if x.Profile != "" {
					mesh = resultsCellText(mesh+" "+x.Profile, resultsCellWidth)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", resultsCellText(x.ID, resultsIDWidth), when,
					resultsCellText(x.Scenario, resultsCellWidth), mesh, resultsCellText(x.Platform, resultsCellWidth), resultsCell(x))
				if out.err != nil {
					break // the tabwriter flushed a line and it failed; stop early
				}
			}
			if err := tw.Flush(); err != nil {
				return out.fail(err)
			}
			return out.fail(nil)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text (a table) or json (one object per run)")
	return c
}

// resultsOrDash is s, or "—" when s is empty.
func resultsOrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Widths (in characters) of the text cells of the results list table: a
// longer field (a scenario named by a 200 MB string) is cut with "…" so
// one run cannot blow up every row. IDs get more room, as they are typed
// back as references; a cut ID's visible start is still a unique prefix
// in practice.
const (
	resultsCellWidth = 48
	resultsIDWidth   = 64
)

// resultsCellText is s for one table cell: "—" when empty, control
// characters (tabs, newlines, escapes) as spaces so the row stays one
// line and the columns line up, and at most width characters, the last
// one "…" when cut.
func resultsCellText(s string, width int) string {
	if s == "" {
		return "—"
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == width {
			// Cut: replace the last character with the ellipsis.
			out := []rune(b.String())
			return string(out[:width-1]) + "…"
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// resultsOut is the command's stdout; it remembers the first write error
// so a render that cannot return one (report.Text) is still checked, and
// fail turns it into exit 3 ("meshgym: write output: …"): a full disk or
// a closed pipe is not a usage error.
type resultsOut struct {
	w   io.Writer
	err error
}

func (o *resultsOut) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

// fail returns the write error as exit 3: the first one seen, else err
// (nil when there was none).
func (o *resultsOut) fail(err error) error {
	if o.err != nil {
		err = o.err
	}
	if err == nil {
		return nil
	}
	return &exitError{code: exitPlatform, err: fmt.Errorf("write output: %w", err)}
}

// resultsCell is PASS/FAIL/ERROR with the verdict counts.
func resultsCell(s results.Summary) string {
	out := s.Outcome()
	if n := s.Pass + s.Fail + s.Warn; n > 0 {
		out += fmt.Sprintf(" (%d/%d passed", s.Pass, n)
		if s.Warn > 0 {
			out += fmt.Sprintf(", %d WARN", s.Warn)
		}
		out += ")"
	}
	return out
}

// resultsLoad loads a run, turning store errors into exit codes (see
// resultsStoreErr).
func resultsLoad(s *results.Store, ref string) (*engine.Result, error) {
	res, err := s.Load(ref)
	if err != nil {
		return nil, resultsStoreErr(err)
	}
	return res, nil
}

// resultsStoreErr gives a store error its exit code: bad input (2) for an
// unknown or ambiguous ref, a result.json that cannot be loaded (corrupt,
// empty, too large, not a meshgym result, a directory) and a
// --results-dir that cannot be listed (a file, a symlink loop); 3 for
// anything else. The message is the error's one line, without a help hint.
func resultsStoreErr(err error) error {
	var (
		re *results.RefError
		le *results.LoadError
		de *results.DirError
	)
	if errors.As(err, &re) || errors.As(err, &le) || errors.As(err, &de) {
		return &exitError{code: exitUsage, err: err}
	}
	return &exitError{code: exitPlatform, err: err}
}

func newResultsShowCmd(store func() *results.Store) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "show REF",
		Short: "Print a run's report again",
		Long: `Print the report of an earlier run, as 'meshgym run' printed it, from its
result.json. REF is a run ID, a unique start of one, or "last".
--output json prints the stored result as it is. The exit code is 0 whatever
the run's verdicts were.`,
		Example: "  meshgym results show last\n  meshgym results show 20261129-1405\n  meshgym results show last --output json > result.json",
		Args:    exactArgs(1, "REF (a run ID, a unique start of one, or last)"),
		RunE: func(c *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageErr("--output: unknown format %q; use text or json", output)
			}
			res, err := resultsLoad(store(), args[0])
			if err != nil {
				return err
			}
			out := &resultsOut{w: c.OutOrStdout()}
			if output == "json" {
				if err := report.JSON(out, res); err != nil {
					if out.err == nil {
						return &exitError{code: exitPlatform, err: fmt.Errorf("show %s: %w", res.ID, err)}
					}
					return out.fail(err)
				}
				return nil
			}
			report.Text(out, res, report.TextOptions{Color: isTTY(c.OutOrStdout()) && os.Getenv("NO_COLOR") == ""})
			return out.fail(nil)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text (the report) or json (the stored result.json)")
	return c
}

// resultsExportFormats are the formats of results export.
var resultsExportFormats = map[string]func(io.Writer, *engine.Result) error{
	"json": report.JSON,
	"html": report.HTML,
	"smp":  func(w io.Writer, res *engine.Result) error { return smp.FromResult(res).Write(w) },
}

func newResultsExportCmd(store func() *results.Store) *cobra.Command {
	var format, file string
	var force bool
	c := &cobra.Command{
		Use:   "export REF --format json|html|smp [-o FILE]",
		Short: "Export a run as JSON, an HTML page with plots, or SMP results",
		Long: `Export an earlier run. REF is a run ID, a unique start of one, or "last".

Formats:
  json  the stored result as it is (engine.Result, indented)
  html  one self-contained page (no network needed): verdicts, requests per
        component and status class, latency percentiles before vs after, and
        a timeline per phase when the run recorded one
  smp   Service Mesh Performance results (smp-spec.io), one per phase:
        latencies_ms, actual_qps, start/end time, load generator, mesh, and
        meshgym's status codes and per-component CPU and memory

The export goes to stdout, or to FILE with -o. An existing FILE is never
overwritten unless --force is given.`,
		Example: `  meshgym results export last --format html -o retries.html
  meshgym results export 20261129-1405 --format smp -o before-after.smp.json
  meshgym results export last --format json | jq .verdicts`,
		Args: exactArgs(1, "REF (a run ID, a unique start of one, or last)"),
		RunE: func(c *cobra.Command, args []string) error {
			if format == "" {
				return usageErr("%s needs --format json, html or smp; see '%s --help'", c.CommandPath(), c.CommandPath())
			}
			write, ok := resultsExportFormats[format]
			if !ok {
				return usageErr("--format: unknown format %q; use json, html or smp; see '%s --help'", format, c.CommandPath())
			}
			res, err := resultsLoad(store(), args[0])
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := write(&buf, res); err != nil {
				return &exitError{code: exitPlatform, err: fmt.Errorf("export %s: %w", res.ID, err)}
			}
			if file == "" || file == "-" {
				out := &resultsOut{w: c.OutOrStdout()}
				_, err := out.Write(buf.Bytes())
				return out.fail(err)
			}
			if err := resultsWriteFile(file, buf.Bytes(), force); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "wrote %s (%s of run %s)\n", file, format, res.ID)
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "json, html or smp (required)")
	c.Flags().StringVarP(&file, "output-file", "o", "", "write to FILE instead of stdout")
	c.Flags().BoolVar(&force, "force", false, "overwrite FILE if it exists")
	return c
}

// resultsWriteFile writes data to path, refusing (exit 2) to replace an existing
// file unless force.
func resultsWriteFile(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return usageErr("%s already exists; meshgym does not overwrite files: choose another name or add --force", path)
	}
	if err != nil {
		return usageErr("cannot write %s: %v", path, errors.Unwrap(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return &exitError{code: exitPlatform, err: fmt.Errorf("write %s: %w", path, err)}
	}
	if err := f.Close(); err != nil {
		return &exitError{code: exitPlatform, err: fmt.Errorf("write %s: %w", path, err)}
	}
	return nil
}
