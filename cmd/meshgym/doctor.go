package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"meshgym/doctor"
	"meshgym/sandbox/docker/images"
	"meshgym/sandbox/local"
)

func init() { moreCommands = append(moreCommands, newDoctorCmd) }

func newDoctorCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check which platforms can run here, and what to do about each that cannot",
		Long: `doctor checks this machine for meshgym's platforms and prints one line per
check (✓ ok, ! works with a limit or not set up yet, ✗ does not work), with a
"fix:" line under each that is not ok:

  local    the lean executables, port 8200, starting a child process
  docker   the daemon (DOCKER_HOST or the local socket, 2 s bound), privileges
           and cgroups (what the stats API can measure), a user-defined network
           and a probe container from meshgym's sample-app image (both removed
           again, also on Ctrl-C), the address published ports are reached on
           (TESTCONTAINERS_HOST_OVERRIDE, else 127.0.0.1), meshgym's images
  kind     Docker answers, the pinned kind node image is at hand, meshgym's kind clusters
  plugins  the mesh plugins found and the plugin directory

It ends with the platforms usable here. Every check is bounded; the whole
run takes under 10 s.

Exit codes: 0 at least one platform is usable (local normally is),
3 none is, 130 interrupted.`,
		Example: `  meshgym doctor
  meshgym doctor -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageErr("--output: unknown format %q; use text or json", output)
			}
			opts := doctor.Options{
				Executables: local.ResolveExecutables(),
				Plugins:     pluginLoader(),
				Getenv:      os.Getenv,
			}
			opts.AppImage, opts.SidecarImage = images.Refs()
			if cl, err := doctor.NewDockerClient(); err != nil {
				opts.DockerErr = err
			} else {
				defer cl.Close()
				opts.Docker = cl
			}
			rep := doctor.Run(c.Context(), opts)
			out := c.OutOrStdout()
			var err error
			if output == "json" {
				err = doctor.JSON(out, rep)
			} else {
				err = doctor.Text(out, rep)
			}
			if err != nil {
				return &exitError{code: exitPlatform, err: fmt.Errorf("write output: %w", err)}
			}
			switch {
			case rep.Interrupted:
				return &exitError{code: exitInterrupted, err: errors.New("interrupted")}
			case rep.ExitCode != 0:
				return &exitError{code: rep.ExitCode, err: errors.New("no platform is usable here; see the fix: lines above")}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return c
}
