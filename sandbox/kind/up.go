package kind

import (
	"context"
	"errors"
	"fmt"
	"time"

	"meshgym/sandbox"
)

// UpOptions is what `meshgym up --platform kind` does, step by step.
type UpOptions struct {
	Clusters Clusters
	Spec     ClusterSpec
	// Pull lets kind pull a missing node image (internet needed).
	Pull bool
	// Images returns the images to load into the nodes (meshgym's sample
	// app, and the mesh's images when they are in the local Docker; a
	// mesh image not loaded is pulled by the node itself when it has
	// internet). Nil loads nothing.
	Images func(ctx context.Context) ([]string, error)
	// Install installs the mesh into the cluster (the mesh plugin's
	// Install); nil installs nothing (a cluster without a mesh).
	Install func(ctx context.Context, cl sandbox.Cluster) error
	// Progress receives one line per step.
	Progress func(string)
}

// UpResult says what Up did.
type UpResult struct {
	Cluster ClusterInfo
	// Created is true when this Up created the cluster (false: reused).
	Created bool
	Took    time.Duration
}

// Up makes a cluster ready for runs: create it (or reuse one meshgym
// made), load the images into its nodes, install the mesh. When a step
// fails and this Up created the cluster, the cluster is deleted before
// the error returns, so a failed `meshgym up` leaves nothing behind; a
// cluster that existed before stays as it was found (a mesh install that
// fails is rolled back by the installer).
func Up(ctx context.Context, o UpOptions) (res UpResult, err error) {
	start := time.Now()
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if o.Clusters == nil {
		return res, errors.New("kind: no cluster provider")
	}
	existed := false
	if _, gerr := o.Clusters.Get(ctx, o.Spec.Name); gerr == nil {
		existed = true
	} else if !errors.Is(gerr, ErrNoCluster) {
		return res, gerr
	}
	info, err := o.Clusters.Create(ctx, o.Spec, o.Pull, progress)
	if err != nil {
		return res, err
	}
	res.Cluster, res.Created = info, !existed
	defer func() {
		if err == nil || !res.Created {
			return
		}
		// Deleting must not depend on the (maybe interrupted) ctx.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		progress(fmt.Sprintf("deleting kind cluster %s, which this failed 'up' created", info.Name))
		if derr := o.Clusters.Delete(dctx, info.Name); derr != nil {
			err = fmt.Errorf("%w; deleting the cluster failed too: %v (run 'meshgym down')", err, derr)
		}
	}()
	if o.Images != nil {
		imgs, ierr := o.Images(ctx)
		if ierr != nil {
			return res, ierr
		}
		if len(imgs) > 0 {
			progress(fmt.Sprintf("loading %d images into the nodes of %s", len(imgs), info.Name))
			if err := o.Clusters.LoadImages(ctx, info.Name, imgs); err != nil {
				return res, err
			}
		}
	}
	if o.Install != nil {
		mesh := o.Spec.Mesh
		progress(fmt.Sprintf("installing %s into %s (Helm charts at pinned versions; several minutes the first time)", mesh, info.Name))
		cl := sandbox.Cluster{Name: info.Name, Kubeconfig: info.Kubeconfig, Namespace: Namespace, Mesh: mesh}
		if err := o.Install(ctx, cl); err != nil {
			return res, fmt.Errorf("install %s into kind cluster %s: %w", mesh, info.Name, err)
		}
	}
	res.Took = time.Since(start)
	return res, nil
}
