package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"meshgym/sandbox/docker"
	"meshgym/sandbox/kind"
)

func init() { moreCommands = append(moreCommands, newDownCmd) }

func newDownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove every kind cluster, container, network and volume meshgym created",
		Long: `Remove every kind cluster meshgym created ('meshgym up'; recorded in
meshgym's cluster registry — a kind cluster you made yourself stays, whatever
its name) and every Docker container, network and volume meshgym created
(labelled dev.meshgym.managed=true), whatever run made them and whether or
not that meshgym is still running, and print what was removed.

Runs clean up after themselves, on Ctrl-C too; a meshgym that was killed is
cleaned up by its watchdog or by the next --platform docker run. Use this
when something is left anyway (e.g. the machine rebooted mid-run).
meshgym's images stay ('meshgym images list').

Exit codes: 0 done (also when there was nothing to remove), 3 Docker is not
reachable or something could not be removed.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			out := c.OutOrStdout()
			clusters, kerr := downKind(c)
			for _, n := range clusters {
				fmt.Fprintf(out, "removed kind cluster %s\n", n)
			}
			r, err := docker.Down(c.Context())
			if err == nil && kerr != nil {
				err = kerr
			}
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
			switch {
			case r.Empty() && len(clusters) == 0:
				fmt.Fprintln(out, "nothing to remove: no kind cluster, container, network or volume created by meshgym")
			case len(clusters) > 0:
				fmt.Fprintf(out, "removed %s and %d Docker objects created by meshgym\n", plural(len(clusters), "kind cluster"), r.Count())
			default:
				fmt.Fprintf(out, "removed %d objects created by meshgym\n", r.Count())
			}
			return nil
		},
	}
}

// downKind deletes the kind clusters meshgym created (its registry); no
// registry or no Docker is nothing to delete.
func downKind(c *cobra.Command) ([]string, error) {
	kc, err := kindClusters(func(format string, args ...any) {
		fmt.Fprintf(c.ErrOrStderr(), "meshgym: "+format+"\n", args...)
	})
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	return kind.Down(c.Context(), kc, nil)
}
