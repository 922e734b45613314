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
			fmt.Fprintln(tw, "SCENARIO\tDESCRIPTION")
			for _, b := range scenarios.BuiltinNames() {
				fmt.Fprintf(tw, "%s\t%s\n", b.Name, b.Description)
			}
			tw.Flush()
			fmt.Fprintln(c.OutOrStdout(), "\nRun one with: meshgym run NAME   (e.g. meshgym run retries --duration 20s)")
			return nil
		},
	}
}
