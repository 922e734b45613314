package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"meshgym/engine"
	"meshgym/plugins"
	"meshgym/plugins/builtin"
	"meshgym/plugins/kubemesh"
)

// builtinPlugins are served by re-executing this program as
// `meshgym plugin serve NAME`.
var builtinPlugins = map[string]func() plugins.Mesh{
	builtin.Name: func() plugins.Mesh { return builtin.NewPlugin() },
}

// The real meshes (platform kind) are built-in plugins too; on local and
// docker their names stay the builtin plugin's semantics profiles.
func init() {
	for _, s := range kubemesh.Specs() {
		builtinPlugins[s.Name] = func() plugins.Mesh { return kubemesh.New(s, kubemesh.Deps{}) }
	}
}

// isRealMesh reports whether name is a real mesh's plugin (istio,
// linkerd, consul), which runs on platform kind only.
func isRealMesh(name string) bool {
	_, ok := kubemesh.Lookup(name)
	return ok
}

// realMeshNames lists the real meshes for messages: "istio, linkerd or consul".
func realMeshNames() string {
	var names []string
	for _, s := range kubemesh.Specs() {
		names = append(names, s.Name)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

var (
	loaderOnce sync.Once
	theLoader  *plugins.Loader
)

// pluginLoader is the process's one Loader; Main closes it, which kills
// every plugin process it started.
func pluginLoader() *plugins.Loader {
	loaderOnce.Do(func() {
		// builtin first, then the real meshes in their order.
		names := []string{builtin.Name}
		for _, s := range kubemesh.Specs() {
			names = append(names, s.Name)
		}
		// Plugins' own output stays off the terminal: the loader keeps
		// its tail and puts the telling line (a panic) into the error.
		theLoader = plugins.NewLoader(plugins.LoaderOptions{Builtins: names})
	})
	return theLoader
}

// closeLoader kills every plugin process this run started.
func closeLoader() {
	if theLoader != nil {
		theLoader.Close()
	}
}

// openMesh is the engine's MeshOpener: a plugin process per run.
func openMesh(ctx context.Context, name string) (engine.MeshClient, error) {
	c, err := pluginLoader().Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// isPlugin reports whether name is a plugin on the plugin path other than
// the builtin one (whose profiles --mesh names otherwise).
func isPlugin(name string) bool {
	if name == builtin.Name {
		return true
	}
	if isRealMesh(name) {
		return false // a builtin profile, except on kind (setMesh)
	}
	found, err := pluginLoader().Find()
	if err != nil {
		return false
	}
	for _, f := range found {
		if f.Name == name {
			return true
		}
	}
	return false
}

func newPluginCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "plugin",
		Short: "List mesh plugins and their semantics profiles",
		Long: `Mesh plugins apply a scenario's pattern: the builtin plugin (meshgym's own
control plane and sidecar, with semantics profiles that reproduce real
meshes' defaults) ships inside meshgym; others are executables named
meshgym-plugin-NAME in the plugin directory ($MESHGYM_PLUGIN_DIR, else
<user config dir>/meshgym/plugins). docs/plugins.md is the author guide.`,
	}
	c.AddCommand(newPluginListCmd(), newPluginServeCmd())
	return c
}

func newPluginListCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the mesh plugins found, what they support and their profiles",
		Example: `  meshgym plugin list
  meshgym plugin list -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageErr("--output: unknown format %q; use text or json", output)
			}
			l := pluginLoader()
			found, err := l.Find()
			if err != nil {
				return &exitError{code: exitPlatform, err: err}
			}
			type row struct {
				plugins.Found
				Info  *plugins.Info `json:"info,omitempty"`
				Error string        `json:"error,omitempty"`
			}
			var rows []row
			for _, f := range found {
				r := row{Found: f}
				// One stuck plugin must not stop the listing of the others.
				ctx, cancel := context.WithTimeout(c.Context(), 15*time.Second)
				if cl, err := l.Open(ctx, f.Name); err != nil {
					r.Error = err.Error()
				} else {
					if info, err := cl.Info(ctx); err != nil {
						r.Error = err.Error()
					} else {
						r.Info = &info
					}
					cl.Close()
				}
				cancel()
				if c.Context().Err() != nil {
					return &exitError{code: exitInterrupted, err: errors.New("interrupted")}
				}
				rows = append(rows, r)
			}
			out := c.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			dir, _ := l.Dir()
			for _, r := range rows {
				where := "built in"
				if !r.Builtin {
					where = r.Path
				}
				if r.Info == nil {
					fmt.Fprintf(out, "%s (%s): cannot start: %s\n\n", r.Name, where, oneLine(r.Error))
					continue
				}
				fmt.Fprintf(out, "%s %s (%s)\n  patterns:  %s\n  platforms: %s\n", r.Name, r.Info.Version, where,
					strings.Join(r.Info.Patterns, ", "), strings.Join(r.Info.Platforms, ", "))
				for _, n := range r.Info.Notes {
					fmt.Fprintf(out, "  note: %s\n", n)
				}
				if len(r.Info.Profiles) > 0 {
					fmt.Fprintln(out, "  profiles (run --mesh NAME or NAME@VERSION):")
					tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
					for _, p := range r.Info.Profiles {
						fmt.Fprintf(tw, "    %s\t%s\t%s\n", p.Name, p.Release, p.Summary)
						if len(p.Versions) > 1 {
							fmt.Fprintf(tw, "    \t\treleases: %s\n", strings.Join(p.Versions, ", "))
						}
					}
					tw.Flush()
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "plugin directory: %s\n", dir)
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return c
}

func newPluginServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "serve NAME",
		Short:  "Serve a built-in plugin over the plugin protocol (started by meshgym itself)",
		Hidden: true,
		Args:   exactArgs(1, "NAME of a built-in plugin"),
		RunE: func(c *cobra.Command, args []string) error {
			if !plugins.StartedByHost() {
				return usageErr("plugin serve is started by meshgym itself, not by hand; 'meshgym plugin list' shows the plugins")
			}
			mk, ok := builtinPlugins[args[0]]
			if !ok {
				return usageErr("no built-in plugin %q; built in: %s", args[0], builtin.Name)
			}
			plugins.Serve(args[0], mk())
			return nil
		},
	}
}
