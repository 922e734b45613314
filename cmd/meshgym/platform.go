package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"meshgym/sandbox"
	"meshgym/sandbox/docker"
	"meshgym/sandbox/kind"
)

// platformNames lists the values of --platform.
var platformNames = []string{"local", "docker", "kind"}

func init() { moreCommands = append(moreCommands, newDockerWatchdogCmd) }

// addPlatformFlag registers --platform (local or docker) and, for docker,
// --image-source on cmd, and returns the --platform value; pass it and cmd
// to newPlatform.
func addPlatformFlag(cmd *cobra.Command) *string {
	fl := cmd.Flags()
	p := fl.String("platform", "local", "where the sample system runs: "+strings.Join(platformNames, ", ")+
		" (local: processes on this machine; docker: containers, one network namespace per instance shared with its sidecar; kind: a Kubernetes cluster with a real mesh, made by 'meshgym up --platform kind --mesh MESH'; see 'meshgym doctor')")
	fl.String("image-source", docker.ImageSourceLocal, "with --platform docker or kind, the sample app's image: local (meshgym's own, built here FROM scratch; no registry needed) or upstream (nicholasjackson/fake-service:v0.26.2, pulled when absent)")
	fl.String("cluster", "", "with --platform kind, the kind cluster to run on (default meshgym-MESH, as 'meshgym up' names it)")
	return p
}

// newPlatform returns the platform called name for engine.Options.Platform:
// nil for "local" (the engine's default local platform, which also notes
// missing lean executables), the Docker platform for "docker" (reading
// --image-source from cmd when cmd has that flag). An unknown name or an
// --image-source without --platform docker is a usage error (exit 2) that
// lists the platforms.
//
// On kind, mesh is the real mesh of the run (istio, linkerd, consul; see
// setMesh); a run on kind without one is a usage error.
func newPlatform(name string, cmd *cobra.Command, mesh ...string) (sandbox.Platform, error) {
	imageSource := ""
	changed, clusterSet := false, false
	if cmd != nil {
		if f := cmd.Flags().Lookup("image-source"); f != nil {
			imageSource, changed = f.Value.String(), f.Changed
		}
		if f := cmd.Flags().Lookup("cluster"); f != nil {
			clusterSet = f.Changed
		}
	}
	if clusterSet && name != "kind" {
		return nil, usageErr("--cluster applies to --platform kind only")
	}
	switch name {
	case "", "local":
		if changed {
			return nil, usageErr("--image-source applies to --platform docker or kind only")
		}
		return nil, nil
	case "kind":
		m := ""
		if len(mesh) > 0 {
			m = mesh[0]
		}
		if !isRealMesh(m) {
			given := ""
			if cmd != nil {
				if f := cmd.Flags().Lookup("mesh"); f != nil && f.Changed {
					given = f.Value.String()
				}
			}
			if given != "" {
				return nil, usageErr("--mesh %s: on --platform kind the mesh is a real one the cluster runs: %s (book, envoy, kuma and versioned names are profiles of the builtin mesh, for --platform local or docker)", given, realMeshNames())
			}
			return nil, usageErr("--platform kind runs a real mesh: add --mesh %s (create its cluster first: meshgym up --platform kind --mesh istio)", realMeshNames())
		}
		if cmd != nil {
			if f := cmd.Flags().Lookup("cluster"); f != nil && f.Changed {
				if err := kind.ValidClusterName(f.Value.String()); err != nil {
					return nil, usageErr("--cluster: %v", err)
				}
			}
		}
		if imageSource != "" && imageSource != docker.ImageSourceLocal && imageSource != docker.ImageSourceUpstream {
			return nil, usageErr("--image-source %q: want local or upstream", imageSource)
		}
		p, err := newKindPlatform(cmd, m)
		if err != nil {
			return nil, &exitError{code: exitPlatform, err: err}
		}
		return p, nil
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
