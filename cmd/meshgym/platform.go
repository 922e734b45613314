package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"meshgym/sandbox"
	"meshgym/sandbox/docker"
)

// platformNames lists the values of --platform.
var platformNames = []string{"local", "docker"}

func init() { moreCommands = append(moreCommands, newDockerWatchdogCmd) }

// addPlatformFlag registers --platform (local or docker) and, for docker,
// --image-source on cmd, and returns the --platform value; pass it and cmd
// to newPlatform.
func addPlatformFlag(cmd *cobra.Command) *string {
	fl := cmd.Flags()
	p := fl.String("platform", "local", "where the sample system runs: "+strings.Join(platformNames, " or ")+
		" (local: processes on this machine; docker: containers, one network namespace per instance shared with its sidecar; see 'meshgym doctor')")
	fl.String("image-source", docker.ImageSourceLocal, "with --platform docker, the sample app's image: local (meshgym's own, built here FROM scratch; no registry needed) or upstream (nicholasjackson/fake-service:v0.26.2, pulled when absent)")
	return p
}

// newPlatform returns the platform called name for engine.Options.Platform:
// nil for "local" (the engine's default local platform, which also notes
// missing lean executables), the Docker platform for "docker" (reading
// --image-source from cmd when cmd has that flag). An unknown name or an
// --image-source without --platform docker is a usage error (exit 2) that
// lists the platforms.
func newPlatform(name string, cmd *cobra.Command) (sandbox.Platform, error) {
	imageSource := ""
	changed := false
	if cmd != nil {
		if f := cmd.Flags().Lookup("image-source"); f != nil {
			imageSource, changed = f.Value.String(), f.Changed
		}
	}
	switch name {
	case "", "local":
		if changed {
			return nil, usageErr("--image-source applies to --platform docker only")
		}
		return nil, nil
	case "docker":
		p, err := docker.New(docker.Options{ImageSource: imageSource})
		if err != nil {
			return nil, usageErr("--image-source: %v", err)
		}
		return p, nil
	}
	return nil, usageErr("--platform: unknown platform %q; platforms: %s", name, strings.Join(platformNames, ", "))
}

// newDockerWatchdogCmd is the hidden watchdog the Docker platform starts
// beside meshgym: it removes a run's containers when meshgym dies without
// tearing them down (docker.WatchdogMain).
func newDockerWatchdogCmd() *cobra.Command {
	return &cobra.Command{
		Use:                docker.WatchdogCommand,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := docker.WatchdogMain(args); code != 0 {
				return &exitError{code: code, err: errors.New("")}
			}
			return nil
		},
	}
}
