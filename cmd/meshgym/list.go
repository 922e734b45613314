package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"meshgym/scenarios"
)

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SCENARIO\tPHASE LENGTH\tDESCRIPTION")
			for _, b := range scenarios.BuiltinNames() {
				length := "?"
				if sc, err := scenarios.Builtin(b.Name); err == nil {
					length = sc.Load.Duration.D().String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Name, length, b.Description)
			}
			tw.Flush()
			fmt.Fprintln(c.OutOrStdout(), "\nA run measures two phases (before and after the pattern), each PHASE LENGTH long.")
			fmt.Fprintln(c.OutOrStdout(), "Run one with: meshgym run NAME   (e.g. meshgym run retries --duration 20s for a quick look)")
			return nil
		},
	}
}
