package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Labels meshgym puts on every container, network and volume it creates.
const (
	// LabelManaged is "true" on every object meshgym created.
	LabelManaged = "dev.meshgym.managed"
	// LabelRun is the run ID: the base name of the run directory.
	LabelRun = "dev.meshgym.run"
	// LabelOwnerPID is the process ID of the meshgym that created the
	// object; leftovers whose owner is no longer alive are removed at the
	// start of the next Docker deployment.
	LabelOwnerPID = "dev.meshgym.owner-pid"
	// LabelOwnerHost is the host name of that process (a PID means nothing
	// on another machine sharing a remote daemon).
	LabelOwnerHost = "dev.meshgym.owner-host"
	// LabelDeployment tells the deployments of one run apart (the sidecar
	// scenario deploys twice).
	LabelDeployment = "dev.meshgym.deployment"
)

// Removed lists what a cleanup removed, by name.
type Removed struct {
	Containers []string
	Networks   []string
	Volumes    []string
}

// Empty reports whether nothing was removed.
func (r Removed) Empty() bool {
	return len(r.Containers)+len(r.Networks)+len(r.Volumes) == 0
}

// Count is the number of objects removed.
func (r Removed) Count() int { return len(r.Containers) + len(r.Networks) + len(r.Volumes) }

func (r *Removed) add(o Removed) {
	r.Containers = append(r.Containers, o.Containers...)
	r.Networks = append(r.Networks, o.Networks...)
	r.Volumes = append(r.Volumes, o.Volumes...)
}

// String reads "3 containers (a, b, c), 1 network (n)" or "nothing".
func (r Removed) String() string {
	var parts []string
	for _, k := range []struct {
		what  string
		names []string
	}{{"container", r.Containers}, {"network", r.Networks}, {"volume", r.Volumes}} {
		if len(k.names) == 0 {
			continue
		}
		w := k.what
		if len(k.names) != 1 {
			w += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(k.names), w, strings.Join(k.names, ", ")))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// labelFilter is a Docker filter matching every key=value (or key alone
// when the value is "").
func labelFilter(kv ...string) client.Filters {
	f := client.Filters{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Add("label", kv[i])
		} else {
			f.Add("label", kv[i]+"="+kv[i+1])
		}
	}
	return f
}

// removeLabelled force-removes every container (with its anonymous
// volumes), then every network and volume, matching the label filter.
// Objects already gone are not errors.
func removeLabelled(ctx context.Context, cli *client.Client, f client.Filters) (Removed, error) {
	var out Removed
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return out, fmt.Errorf("list containers: %w", err)
	}
	// Sidecars share their app's network namespace: remove them first.
	sort.SliceStable(cs.Items, func(i, j int) bool {
		return cs.Items[i].Labels[labelKind] == "sidecar" && cs.Items[j].Labels[labelKind] != "sidecar"
	})
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range cs.Items {
		name := c.ID[:min(12, len(c.ID))]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errdefs.IsNotFound(err) && !isRemovalInProgress(err) {
				errs = append(errs, fmt.Errorf("remove container %s: %w", name, err))
				return
			}
			out.Containers = append(out.Containers, name)
		}()
	}
	wg.Wait()
	sort.Strings(out.Containers)
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks: %w", err))
	} else {
		for _, n := range ns.Items {
			if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
				continue
			}
			out.Networks = append(out.Networks, n.Name)
		}
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list volumes: %w", err))
	} else {
		for _, v := range vs.Items {
			if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
				continue
			}
			out.Volumes = append(out.Volumes, v.Name)
		}
	}
	return out, errors.Join(errs...)
}

func isRemovalInProgress(err error) bool {
	return strings.Contains(err.Error(), "is already in progress")
}

// RemoveRun removes every container, network and volume labelled with run
// ID runID (LabelRun).
func RemoveRun(ctx context.Context, runID string) (Removed, error) {
	cli, err := newClient()
	if err != nil {
		return Removed{}, err
	}
	defer cli.Close()
	return removeLabelled(ctx, cli, labelFilter(LabelManaged, "true", LabelRun, runID))
}

// Down removes every container, network and volume meshgym created
// (LabelManaged=true), whatever run or process made them: `meshgym down`.
// The error says when the daemon is not reachable (within PingTimeout).
func Down(ctx context.Context) (Removed, error) {
	cli, err := newClient()
	if err != nil {
		return Removed{}, err
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	_, err = ping(pctx, cli)
	cancel()
	if err != nil {
		return Removed{}, err
	}
	return removeLabelled(ctx, cli, labelFilter(LabelManaged, "true"))
}

// SweepLeftovers removes the objects of runs whose meshgym process is no
// longer alive on this host (it was killed before its teardown and its
// watchdog did not finish either). Objects of live meshgym processes and of
// other hosts are left alone.
func SweepLeftovers(ctx context.Context) (Removed, error) {
	cli, err := newClient()
	if err != nil {
		return Removed{}, err
	}
	defer cli.Close()
	return sweepLeftovers(ctx, cli)
}

func sweepLeftovers(ctx context.Context, cli *client.Client) (Removed, error) {
	host, _ := os.Hostname()
	f := labelFilter(LabelManaged, "true")
	dead := map[string]bool{} // owner PIDs found dead
	var labelsSeen []map[string]string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return Removed{}, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs.Items {
		labelsSeen = append(labelsSeen, c.Labels)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return Removed{}, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		labelsSeen = append(labelsSeen, n.Labels)
	}
	for _, l := range labelsSeen {
		if l[LabelOwnerHost] != host {
			continue
		}
		pid, err := strconv.Atoi(l[LabelOwnerPID])
		if err != nil || pid <= 0 {
			continue
		}
		if !processAlive(pid) {
			dead[l[LabelOwnerPID]] = true
		}
	}
	var out Removed
	var errs []error
	pids := make([]string, 0, len(dead))
	for p := range dead {
		pids = append(pids, p)
	}
	sort.Strings(pids)
	for _, p := range pids {
		r, err := removeLabelled(ctx, cli, labelFilter(LabelManaged, "true", LabelOwnerHost, host, LabelOwnerPID, p))
		out.add(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}
