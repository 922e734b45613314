package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"meshgym/sandbox/docker"
)

func init() { moreCommands = append(moreCommands, newDownCmd) }

func newDownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove every container, network and volume meshgym left behind",
		Long: `Remove every Docker container, network and volume meshgym created (labelled
dev.meshgym.managed=true), whatever run made them and whether or not that
meshgym is still running, and print what was removed.

Runs clean up after themselves, on Ctrl-C too; a meshgym that was killed is
cleaned up by its watchdog or by the next --platform docker run. Use this
when something is left anyway (e.g. the machine rebooted mid-run).
meshgym's images stay ('meshgym images list').

Exit codes: 0 done (also when there was nothing to remove), 3 Docker is not
reachable or something could not be removed.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			out := c.OutOrStdout()
			r, err := docker.Down(c.Context())
			for _, k := range []struct {
				what  string
				names []string
			}{{"container", r.Containers}, {"network", r.Networks}, {"volume", r.Volumes}} {
				for _, n := range k.names {
					fmt.Fprintf(out, "removed %s %s\n", k.what, n)
				}
			}
			if err != nil {
				if strings.Contains(err.Error(), "not reachable") {
					return &exitError{code: exitPlatform, err: fmt.Errorf("%w; nothing was removed; hint: start the Docker daemon and run 'meshgym down' again", err)}
				}
				return &exitError{code: exitPlatform, err: err}
			}
			if r.Empty() {
				fmt.Fprintln(out, "nothing to remove: no container, network or volume created by meshgym")
			} else {
				fmt.Fprintf(out, "removed %d objects created by meshgym\n", r.Count())
			}
			return nil
		},
	}
}
