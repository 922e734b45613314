package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"meshgym/plugins"
	"meshgym/plugins/kubemesh"
	"meshgym/plugins/meshinstall"
	"meshgym/sandbox"
	"meshgym/sandbox/docker"
	"meshgym/sandbox/docker/images"
	"meshgym/sandbox/kind"
)

func init() { moreCommands = append(moreCommands, newUpCmd) }

// kindClusters is the process's kind cluster lifecycle (the registry of
// the clusters meshgym created).
func kindClusters(logf func(string, ...any)) (*kind.KindClusters, error) {
	return kind.NewKindClusters(kind.KindOptions{Logf: logf})
}

// clusterName is the kind cluster a command uses: --cluster, else
// meshgym-MESH.
func clusterName(c *cobra.Command, mesh string) string {
	if c != nil {
		if f := c.Flags().Lookup("cluster"); f != nil && f.Value.String() != "" {
			return f.Value.String()
		}
	}
	if mesh == "" {
		return kind.ClusterPrefix + "kind"
	}
	return kind.ClusterPrefix + mesh
}

// prepareAppImage builds meshgym's sample-app image when it is missing or
// stale (as the Docker platform does) and loads it into the cluster's
// nodes; it returns the image reference.
func prepareAppImage(kc kind.Clusters) func(ctx context.Context, cluster string, logf func(string, ...any)) (string, error) {
	return func(ctx context.Context, cluster string, logf func(string, ...any)) (string, error) {
		app, err := ensureAppImage(ctx, logf)
		if err != nil {
			return "", err
		}
		if err := kc.LoadImages(ctx, cluster, []string{app}); err != nil {
			return "", err
		}
		return app, nil
	}
}

// ensureAppImage builds meshgym's images when missing or stale and
// returns the sample app's reference.
func ensureAppImage(ctx context.Context, logf func(string, ...any)) (string, error) {
	exe, err := images.FindExecutables()
	if err != nil {
		return "", err
	}
	cli, arch, err := docker.Connect(ctx)
	if err != nil {
		return "", fmt.Errorf("%w; kind runs on Docker: start the Docker daemon", err)
	}
	defer cli.Close()
	if _, err := images.Ensure(ctx, cli, exe, arch, logf); err != nil {
		return "", err
	}
	app, _ := images.Refs()
	return app, nil
}

// newKindPlatform is --platform kind for a run of mesh.
func newKindPlatform(c *cobra.Command, mesh string) (sandbox.Platform, error) {
	imageSource := ""
	if c != nil {
		if f := c.Flags().Lookup("image-source"); f != nil {
			imageSource = f.Value.String()
		}
	}
	kc, err := kindClusters(nil)
	if err != nil {
		return nil, err
	}
	return kind.New(kind.Options{
		Clusters:      kc,
		ClusterName:   clusterName(c, mesh),
		Mesh:          mesh,
		ImageSource:   imageSource,
		PrepareImages: prepareAppImage(kc),
		// kind's nodes sit on the Docker network "kind"; its pods reach
		// this machine (the run's trace receiver) at that network's gateway.
		ComponentHost: func(ctx context.Context, _ string) (string, string, error) {
			ip, err := docker.NetworkGateway(ctx, "kind")
			return ip, ip, err
		},
	})
}

func newUpCmd() *cobra.Command {
	var (
		platform  string
		mesh      string
		cluster   string
		nodeImage string
		pull      bool
	)
	c := &cobra.Command{
		Use:   "up",
		Short: "Create a kind cluster with a real mesh (Istio, Linkerd or Consul) for --platform kind runs",
		Long: `Create a local Kubernetes cluster with kind and install a real mesh in it, so
that 'meshgym run SCENARIO --platform kind --mesh MESH' measures the
scenario on that mesh. The local and docker platforms need no 'up': every
run starts and stops its own system.

Steps: create the kind cluster meshgym-MESH (or --cluster NAME; host port
8200, or a free one, is mapped to the entry service), build meshgym's
sample-app image and load it into the nodes (no registry needed), install
the mesh's Helm charts at pinned versions (fetched from the mesh's chart
repository, then cached), and turn on sidecar injection in the lab
namespace "meshgym". A cluster meshgym already made is reused; 'up' is
safe to run again. When a step fails, a cluster this 'up' created is
deleted again.

Needs Docker, the kind node image (` + kind.NodeImage + `;
--pull lets kind pull it) and, the first time, internet access for the
charts and mesh images. For a room without network see docs/kind.md.
'meshgym down' deletes every cluster meshgym created, and nothing else.

Exit codes: 0 ready, 2 bad input, 3 Docker, kind, Helm or the cluster failed,
130 interrupted (a cluster this 'up' created is deleted).`,
		Example: `  meshgym up --platform kind --mesh istio
  meshgym run retries --platform kind --mesh istio
  meshgym up --platform kind --mesh linkerd --pull
  meshgym down`,
		Args: exactArgs(0, "no arguments (the mesh is --mesh)"),
		RunE: func(c *cobra.Command, _ []string) error {
			if platform != "kind" {
				return usageErr("--platform %s: nothing to bring up; local and docker start everything per run (meshgym run SCENARIO --platform %s). 'up' is for --platform kind", platform, platform)
			}
			if mesh == "" || !isRealMesh(mesh) {
				if mesh == "" {
					return usageErr("--mesh is required: %s", realMeshNames())
				}
				return usageErr("--mesh %s: not a mesh meshgym installs; choose %s", mesh, realMeshNames())
			}
			if cluster != "" {
				if err := kind.ValidClusterName(cluster); err != nil {
					return usageErr("--cluster: %v", err)
				}
			}
			spec, _ := kubemesh.Lookup(mesh)
			errOut := c.ErrOrStderr()
			progress := func(s string) { fmt.Fprintln(errOut, "meshgym: "+strings.TrimSpace(s)) }
			logf := func(format string, args ...any) { progress(fmt.Sprintf(format, args...)) }
			kc, err := kindClusters(logf)
			if err != nil {
				return &exitError{code: exitPlatform, err: err}
			}
			defer kc.Close()
			name := cluster
			if name == "" {
				name = kind.ClusterPrefix + mesh
			}
			ctx := c.Context()
			// The charts first: a room without internet learns it before a
			// cluster is built (they come from the cache once fetched or
			// loaded with 'meshgym images load').
			for _, ch := range spec.Charts {
				if _, err := meshinstall.FetchChart(ctx, ch, ""); err != nil {
					if ctx.Err() != nil {
						return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted: %w", err)}
					}
					return &exitError{code: exitPlatform, err: err}
				}
			}
			// kind's steps cannot be interrupted midway: say so at Ctrl-C.
			stopNote := context.AfterFunc(ctx, func() {
				progress("interrupted: stopping after kind's current step (kind cannot stop one midway), then deleting what this 'up' created")
			})
			defer stopNote()
			res, err := kind.Up(ctx, kind.UpOptions{
				Clusters: kc,
				Spec:     kind.ClusterSpec{Name: name, NodeImage: nodeImage, Mesh: mesh},
				Pull:     pull,
				Images: func(ctx context.Context) ([]string, error) {
					app, err := ensureAppImage(ctx, logf)
					if err != nil {
						return nil, err
					}
					return append([]string{app}, presentImages(ctx, spec.Images)...), nil
				},
				Install: func(ctx context.Context, cl sandbox.Cluster) error {
					m, err := openMesh(ctx, mesh)
					if err != nil {
						return err
					}
					defer m.Close()
					return m.Install(ctx, plugins.InstallRequest{Platform: "kind", Cluster: &cl})
				},
				Progress: progress,
			})
			if err != nil {
				if ctx.Err() != nil {
					return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted: %w", err)}
				}
				code := exitPlatform
				if errors.Is(err, kind.ErrBadClusterName) {
					code = exitUsage
				}
				if errors.Is(err, kind.ErrNoNodeImage) {
					err = fmt.Errorf("%w; or run again with --pull (internet needed)", err)
				}
				return &exitError{code: code, err: err}
			}
			out := c.OutOrStdout()
			verb := "reused"
			if res.Created {
				verb = "created"
			}
			fmt.Fprintf(out, "kind cluster %s %s with %s %s in %s; the entry service is on http://127.0.0.1:%d/\n",
				res.Cluster.Name, verb, mesh, spec.Version, res.Took.Round(time.Second), res.Cluster.EntryHostPort)
			flag := ""
			if cluster != "" {
				flag = " --cluster " + cluster
			}
			fmt.Fprintf(out, "next: meshgym run retries --platform kind --mesh %s%s\n      meshgym down   (deletes the clusters meshgym created)\n", mesh, flag)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&platform, "platform", "kind", "the platform to bring up: kind")
	fl.StringVar(&mesh, "mesh", "", "the mesh to install: "+realMeshNames())
	fl.StringVar(&cluster, "cluster", "", "the kind cluster's name (default meshgym-MESH); one per lab or mesh, so several coexist")
	fl.StringVar(&nodeImage, "node-image", "", "the kind node image (default "+kind.NodeImage+")")
	fl.BoolVar(&pull, "pull", false, "let kind pull a missing node image (internet needed)")
	return c
}

// presentImages keeps the refs the local Docker has (the mesh's images
// saved and loaded for an offline room); the nodes pull the others
// themselves when they have internet.
func presentImages(ctx context.Context, refs []string) []string {
	if len(refs) == 0 {
		return nil
	}
	cli, _, err := docker.Connect(ctx)
	if err != nil {
		return nil
	}
	defer cli.Close()
	var out []string
	for _, r := range refs {
		if _, err := cli.ImageInspect(ctx, r); err == nil {
			out = append(out, r)
		}
	}
	return out
}
