package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"meshgym/engine"
	"meshgym/scenarios"
)

func newExplainCmd() *cobra.Command {
	var sets []string
	var mesh, format string
	c := &cobra.Command{
		Use:   "explain SCENARIO",
		Short: "Print how a scenario is read: the expanded long form",
		Long: `Print the long form a scenario expands to — topology, per-version
behaviour, pattern policy, load and conditions — and how each value of a
book-shorthand file was read (a bare 50 is 50%, "status" means status_code …).
Nothing is deployed.

With --mesh, print instead what the pattern becomes under that mesh: every
effective knob and where its value came from (the scenario, the profile's
default with its source, or meshgym's default), the configuration in that
mesh's own language (an Istio VirtualService and DestinationRule, a Linkerd
HTTPRoute with its annotations, Consul config entries, Kuma policies, raw
Envoy), and notes on semantics a learner would trip on. --format sidecar
shows the builtin sidecar's own JSON instead.`,
		Example: `  meshgym explain retries
  meshgym explain ./book-retries.yaml
  meshgym explain circuit-breaking --mesh istio
  meshgym explain retries --mesh istio@1.23
  meshgym explain canary --mesh linkerd --format sidecar`,
		Args: exactArgs(1, "SCENARIO (a built-in name or a file)"),
		RunE: func(c *cobra.Command, args []string) error {
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			if err := applySets(sc, sets); err != nil {
				return err
			}
			if mesh != "" || format != "" {
				return explainMesh(c, sc, mesh, format)
			}
			if sc.Mesh != "" {
				// The file names a mesh profile: check it as run would.
				if _, err := engine.Explain(c.Context(), sc, engine.Options{OpenMesh: openMesh}, ""); err != nil {
					return engineExit(err)
				}
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
	c.Flags().StringVar(&mesh, "mesh", "", "show what the pattern becomes under this mesh profile or plugin (istio, istio@1.23, linkerd …)")
	c.Flags().StringVar(&format, "format", "", "configuration language to render: sidecar (the builtin sidecar's JSON), envoy, istio, linkerd, consul, kuma (default: the mesh's own; sidecar under book)")
	return c
}

// explainMesh prints the pattern as a mesh plugin renders it.
func explainMesh(c *cobra.Command, sc *scenarios.Scenario, mesh, format string) error {
	opts := engine.Options{OpenMesh: openMesh}
	setMesh(&opts, mesh)
	r, err := engine.Explain(c.Context(), sc, opts, format)
	if err != nil {
		return engineExit(err)
	}
	w := c.OutOrStdout()
	profile := mesh
	for _, k := range r.Knobs {
		if k.Path == "profile" {
			profile = k.Value
		}
	}
	if profile == "" {
		profile = "book"
	}
	as := ""
	if format != "" {
		as = ", rendered as " + format
	}
	fmt.Fprintf(w, "# %s (%s) under %s%s\n", sc.Name, sc.Pattern.Kind, profile, as)
	if len(r.Knobs) > 0 {
		fmt.Fprintln(w, "#\n# Effective knobs and where each value came from:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range r.Knobs {
			if k.Path == "profile" {
				continue
			}
			fmt.Fprintf(tw, "#   %s\t%s\t%s\n", k.Path, k.Value, k.Source)
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# note: %s\n", n)
	}
	for i, d := range r.Documents {
		if i > 0 || len(r.Knobs) > 0 || len(r.Notes) > 0 {
			fmt.Fprintln(w, "---")
		}
		fmt.Fprintf(w, "# %s\n%s", d.Name, d.Content)
	}
	return nil
}
