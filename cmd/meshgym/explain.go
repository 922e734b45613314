package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"meshgym/scenarios"
)

func newExplainCmd() *cobra.Command {
	var sets []string
	c := &cobra.Command{
		Use:   "explain SCENARIO",
		Short: "Print how a scenario is read: the expanded long form",
		Long: `Print the long form a scenario expands to — topology, per-version
behaviour, pattern policy, load and conditions — and how each value of a
book-shorthand file was read (a bare 50 is 50%, "status" means status_code …).
Nothing is deployed.`,
		Example: "  meshgym explain retries\n  meshgym explain ./book-retries.yaml",
		Args:    exactArgs(1, "SCENARIO (a built-in name or a file)"),
		RunE: func(c *cobra.Command, args []string) error {
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			if err := applySets(sc, sets); err != nil {
				return err
			}
			out, err := scenarios.Marshal(sc)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			w := c.OutOrStdout()
			fmt.Fprintf(w, "# %s expands to:\n", sc.Source)
			for _, n := range sc.Notes {
				fmt.Fprintf(w, "# read: %s\n", n)
			}
			w.Write(out)
			return nil
		},
	}
	c.Flags().StringArrayVar(&sets, "set", nil, "change a knob first, as with run --set")
	return c
}
