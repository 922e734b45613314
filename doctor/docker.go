package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"meshgym/sandbox/docker"
	"meshgym/sandbox/kind"
)

// Docker is what the doctor asks of a Docker daemon. DockerClient
// implements it on the Engine API; tests use fakes. Every method must
// honour its context's deadline.
type Docker interface {
	// Host is the daemon address the client uses: DOCKER_HOST, or the
	// default unix:///var/run/docker.sock.
	Host() string
	// Ping reaches the daemon and returns its server version
	// ("20.10.24+dfsg1").
	Ping(ctx context.Context) (serverVersion string, err error)
	// Info returns the daemon facts the checks read (`docker info`).
	Info(ctx context.Context) (DaemonInfo, error)
	// ImagesPresent reports, keyed by reference, which of meshgym's images
	// the daemon has (sandbox/docker.ImagesPresent).
	ImagesPresent(ctx context.Context) (map[string]bool, error)
	// ImagesOf lists the local references ("kindest/node:v1.33.1") of one
	// repository.
	ImagesOf(ctx context.Context, repository string) ([]string, error)
	// ImagePresent reports whether the daemon has the image ref (an image
	// inspect; a digest-pinned reference matches by digest). A missing
	// image is false with a nil error.
	ImagePresent(ctx context.Context, ref string) (bool, error)
	// CreateNetwork creates a user-defined bridge network.
	CreateNetwork(ctx context.Context, name string, labels map[string]string) error
	// RemoveNetwork removes a network by name; removed is false (and err
	// nil) when there was none.
	RemoveNetwork(ctx context.Context, name string) (removed bool, err error)
	// StartContainer creates and starts a container. When creation
	// succeeded but starting failed it still returns the error; the caller
	// removes the container by name either way.
	StartContainer(ctx context.Context, spec ContainerSpec) error
	// InspectContainer returns a container's state and, once published,
	// the host port of spec.Port.
	InspectContainer(ctx context.Context, name string) (ContainerState, error)
	// ContainerLogs returns the last lines of a container's output.
	ContainerLogs(ctx context.Context, name string) (string, error)
	// RemoveContainer removes a container by name, killing it if it runs;
	// removed is false (and err nil) when there was none.
	RemoveContainer(ctx context.Context, name string) (removed bool, err error)
}

// DaemonInfo are the `docker info` fields the checks read.
type DaemonInfo struct {
	// CgroupDriver: "cgroupfs", "systemd", or "none" (no cgroups: no
	// per-container resource figures).
	CgroupDriver string
	// CgroupVersion: "1" or "2".
	CgroupVersion string
	// SecurityOptions: "name=seccomp,profile=default", "name=rootless" …
	SecurityOptions []string
	// MemoryLimit: the daemon has the memory cgroup controller.
	MemoryLimit bool
	// Warnings the daemon reports about itself ("No swap limit support").
	Warnings []string
	// OperatingSystem and KernelVersion of the daemon's host.
	OperatingSystem, KernelVersion string
}

// Rootless reports whether the daemon runs in rootless mode.
func (d DaemonInfo) Rootless() bool {
	for _, s := range d.SecurityOptions {
		if s == "rootless" || strings.Contains(","+s+",", ",name=rootless,") {
			return true
		}
	}
	return false
}

// ContainerSpec is the probe container.
type ContainerSpec struct {
	Name    string
	Image   string
	Env     []string
	Labels  map[string]string
	Network string // user-defined network to attach to; "" = default bridge
	// Port is the container's TCP port to publish on a free host port of
	// HostIP ("" = all addresses).
	Port   int
	HostIP string
}

// ContainerState is what InspectContainer returns.
type ContainerState struct {
	Running  bool
	Exited   bool
	ExitCode int
	// HostPort is the published host port of ContainerSpec.Port (0 until
	// the daemon has published it).
	HostPort int
}

// Labels set on everything the doctor creates, as sandbox/docker labels
// its objects, so that `meshgym down` and the next deployment's sweep find
// a leftover even if meshgym was killed mid-check.
const (
	labelManaged  = docker.LabelManaged
	labelRun      = docker.LabelRun
	labelOwnerPID = docker.LabelOwnerPID
)

// reachTimeout bounds calling the probe container's published port (the
// app answers within milliseconds once it runs); tests shorten it.
var reachTimeout = 2 * time.Second

// probeAppPort is where the probe container's sample app listens.
const probeAppPort = 9090

const envHostOverride = docker.EnvHostOverride

// checkDocker runs the Docker checks and the kind checks (kind runs on
// Docker: they need the daemon). It returns the Docker checks, the Docker
// platform's verdict and the kind checks.
func checkDocker(ctx context.Context, o Options) ([]Check, Platform, []Check) {
	plat := Platform{Name: PlatformDocker}
	var out []Check
	addr := publishedAddress(o)

	d := o.Docker
	if d == nil {
		if o.DockerErr == nil {
			out = append(out, Check{Group: PlatformDocker, Name: "daemon", Status: StatusWarn,
				Detail: "not checked", Fix: "run meshgym doctor (the CLI) to check Docker"})
			plat.Note = "not checked"
			return out, plat, kindDockerDown(StatusWarn, "not checked (Docker was not checked)", "run meshgym doctor (the CLI) to check kind")
		}
		out = append(out, Check{Group: PlatformDocker, Name: "daemon", Status: StatusFail,
			Detail: "no Docker client: " + oneLine(o.DockerErr.Error()),
			Fix:    "fix DOCKER_HOST (now " + quoteOrUnset(o.Getenv("DOCKER_HOST")) + "), or unset it to use the local socket"})
		out = append(out, addr.check(nil))
		plat.Note = "no Docker client"
		return out, plat, kindDockerDown(StatusFail, "kind runs on Docker, and there is no Docker client", "fix the Docker client first (see docker above)")
	}

	// 1. The daemon answers.
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	version, err := d.Ping(pctx)
	cancel()
	if err != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		out = append(out, Check{Group: PlatformDocker, Name: "daemon", Status: StatusFail,
			Detail: "not checked: interrupted", Fix: "run meshgym doctor again"})
		plat.Note = "not checked"
		return out, plat, nil
	}
	if err != nil {
		out = append(out, daemonDown(d.Host(), err, o.Getenv))
		out = append(out, addr.check(nil))
		plat.Note = "daemon not reachable"
		return out, plat, kindDockerDown(StatusFail, "kind runs on Docker, which is not reachable", "start Docker first (see docker above)")
	}
	out = append(out, Check{Group: PlatformDocker, Name: "daemon", Status: StatusOK,
		Detail: "reached " + d.Host() + ", server " + version})

	// 2. Privileges and cgroups (what the stats API can report).
	ictx, cancel := context.WithTimeout(ctx, PingTimeout)
	info, err := d.Info(ictx)
	cancel()
	if err != nil {
		out = append(out, Check{Group: PlatformDocker, Name: "privileges and cgroups", Status: StatusWarn,
			Detail: "docker info failed: " + oneLine(err.Error()),
			Fix:    "run `docker info` to see what the daemon says; CPU and memory figures may be missing"})
	} else {
		out = append(out, cgroupCheck(info))
	}

	// 3. Meshgym's images.
	ictx, cancel = context.WithTimeout(ctx, PingTimeout)
	present, imgErr := d.ImagesPresent(ictx)
	cancel()
	imgCheck := imagesCheck(o.AppImage, o.SidecarImage, present, imgErr)
	appPresent := imgErr == nil && present[o.AppImage]

	// 4. A network and a container, removed again; 5. the published port
	// reached on addr.
	probe := runProbe(ctx, d, o.AppImage, appPresent, addr)
	out = append(out, probe.network, probe.container, addr.check(probe.reach), imgCheck)

	// kind: Docker answers; its node image and meshgym's clusters.
	kind := checkKind(ctx, o, d)

	plat = platformFrom(PlatformDocker, out)
	if plat.Usable && !appPresent {
		plat.Note = "images are built on the first --platform docker run (or now: meshgym images build)"
	}
	return out, plat, kind
}

// daemonDown words an unreachable daemon with its probable cause.
func daemonDown(host string, err error, getenv func(string) string) Check {
	c := Check{Group: PlatformDocker, Name: "daemon", Status: StatusFail}
	msg := oneLine(err.Error())
	// Drop what the detail says already (sandbox/docker's and the moby
	// client's wording of the same address).
	msg = strings.TrimPrefix(msg, "docker daemon at "+host+" is not reachable: ")
	msg = strings.TrimPrefix(msg, "failed to connect to the docker API at "+host+"; check if the path is correct and if the daemon is running: ")
	c.Detail = "cannot reach the daemon at " + host + ": " + msg
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "permission denied"):
		c.Fix = "let your user use the socket (sudo usermod -aG docker $USER, then log in again), or use rootless Docker and set DOCKER_HOST to its socket"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(low, "no answer within") || strings.Contains(low, "deadline exceeded"):
		c.Fix = fmt.Sprintf("the daemon did not answer within %v: check it is healthy (docker info), restart it (systemctl restart docker)", PingTimeout)
	case strings.HasPrefix(host, "unix://") && (strings.Contains(low, "no such file") || strings.Contains(low, "connection refused")):
		c.Fix = "start the daemon (systemctl start docker, or `dockerd &` as root); not installed? Debian: apt-get install docker.io"
	default:
		c.Fix = "start Docker, or set DOCKER_HOST (now " + quoteOrUnset(getenv("DOCKER_HOST")) + ") to a daemon that runs"
	}
	return c
}

func quoteOrUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return strconv.Quote(s)
}

// cgroupCheck reads privileges and cgroups: what the stats API can report
// per container. Sources: Docker's rootless mode ("Limiting resources":
// cgroup only with cgroup v2 and systemd,
// https://docs.docker.com/engine/security/rootless/#limiting-resources) and
// the kernel's cgroup v1 memory controller (section 5.5: usage_in_bytes is
// a fuzz value, page cache included,
// https://docs.kernel.org/admin-guide/cgroup-v1/memory.html).
func cgroupCheck(info DaemonInfo) Check {
	c := Check{Group: PlatformDocker, Name: "privileges and cgroups", Status: StatusOK}
	mode := "rootful"
	if info.Rootless() {
		mode = "rootless"
	}
	v := info.CgroupVersion
	if v == "" {
		v = "?"
	}
	c.Detail = fmt.Sprintf("%s, cgroup v%s, driver %s", mode, v, orNone(info.CgroupDriver))
	noStats := info.CgroupDriver == "none" || (info.Rootless() && info.CgroupVersion != "2")
	switch {
	case noStats:
		c.Status = StatusWarn
		c.Detail += ": the stats API has no per-container CPU or memory here, so cpu_seconds_* and memory_megabytes_* conditions cannot be measured"
		c.Fix = "run the rootful daemon, or boot with cgroup v2 and use the systemd cgroup driver (docs.docker.com/engine/security/rootless/#limiting-resources)"
	case !info.MemoryLimit:
		c.Status = StatusWarn
		c.Detail += ": no memory cgroup controller, so memory_megabytes_* conditions cannot be measured"
		c.Fix = "enable the memory cgroup (kernel parameter cgroup_enable=memory) and restart the daemon"
	case info.CgroupVersion == "1":
		c.Status = StatusWarn
		c.Detail += ": memory figures are the cgroup v1 charge (page cache included, approximate), not process RSS as on the local platform; CPU seconds are exact"
		c.Fix = "compare memory figures within one platform; exact figures need cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1)"
	}
	if len(info.Warnings) > 0 {
		ws := make([]string, len(info.Warnings))
		for i, w := range info.Warnings {
			ws[i] = strings.TrimPrefix(strings.TrimSpace(w), "WARNING: ")
		}
		c.Detail += "; the daemon warns: " + strings.Join(ws, "; ")
	}
	return c
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// imagesCheck reports meshgym's own images.
func imagesCheck(app, sidecar string, present map[string]bool, err error) Check {
	c := Check{Group: PlatformDocker, Name: "images", Status: StatusOK}
	if err != nil {
		c.Status = StatusWarn
		c.Detail = "cannot list images: " + oneLine(err.Error())
		c.Fix = "run `docker images` to see what the daemon says; meshgym images build makes them"
		return c
	}
	var have, missing []string
	for _, ref := range []string{app, sidecar} {
		if ref == "" {
			continue
		}
		if present[ref] {
			have = append(have, ref)
		} else {
			missing = append(missing, ref)
		}
	}
	switch {
	case app == "" && sidecar == "":
		c.Status = StatusWarn
		c.Detail = "meshgym's image names are unknown to this build"
		c.Fix = "meshgym images build"
	case len(missing) > 0:
		c.Status = StatusWarn
		c.Detail = "not built yet: " + strings.Join(missing, ", ")
		if len(have) > 0 {
			c.Detail += " (present: " + strings.Join(have, ", ") + ")"
		}
		c.Detail += "; the first --platform docker run builds them (no registry needed)"
		c.Fix = "meshgym images build (or meshgym images load FILE.tar from a prepared tarball)"
	default:
		c.Detail = "present: " + strings.Join(have, ", ")
	}
	return c
}

// kindDockerDown is the kind checks when Docker cannot be asked: one
// "docker" check with the status, detail and fix given.
func kindDockerDown(st Status, detail, fix string) []Check {
	return []Check{{Group: PlatformKind, Name: "docker", Status: st, Detail: detail, Fix: fix}}
}

// KindImageFix is the fix line of a missing kind node image.
var KindImageFix = "docker pull " + kind.NodeImage + " (or meshgym up --platform kind --mesh istio --pull; internet needed); " +
	"offline: meshgym images load FILE, FILE from a machine that ran `meshgym images save --mesh istio --node-image FILE`"

// checkKind is the kind platform's checks once Docker answered: Docker
// (ok), the pinned node image kind.NodeImage (a warning when missing:
// `meshgym up --pull` or `meshgym images load` brings it), and the kind
// clusters meshgym created, with their mesh, from the registry
// (o.KindClusters; a registry that cannot be read is a warning).
func checkKind(ctx context.Context, o Options, d Docker) []Check {
	out := []Check{{Group: PlatformKind, Name: "docker", Status: StatusOK, Detail: "kind runs its nodes as Docker containers; the daemon answers"}}
	ictx, cancel := context.WithTimeout(ctx, PingTimeout)
	present, err := d.ImagePresent(ictx, kind.NodeImage)
	byTag := false
	var nodes []string
	if err == nil && !present {
		// `docker load` of a saved node image restores its tag, not its
		// registry digest.
		byTag, err = d.ImagePresent(ictx, nodeImageTag)
	}
	if err == nil && !present && !byTag {
		nodes, _ = d.ImagesOf(ictx, "kindest/node")
	}
	cancel()
	out = append(out, nodeImageCheck(present, byTag, nodes, err))
	out = append(out, clustersCheck(ctx, o.KindClusters))
	return out
}

// nodeImageTag is kind.NodeImage without its digest ("kindest/node:v1.37.0").
var nodeImageTag, _, _ = strings.Cut(kind.NodeImage, "@")

// nodeImageCheck says whether the pinned node image is present (by its
// digest-pinned reference, or byTag: by its tag only, as after `docker
// load`); nodes are the other kindest/node images the daemon has.
func nodeImageCheck(present, byTag bool, nodes []string, err error) Check {
	c := Check{Group: PlatformKind, Name: "node image"}
	short := nodeImageTag
	switch {
	case err != nil:
		c.Status = StatusWarn
		c.Detail = "could not look for " + short + ": " + oneLine(err.Error())
		c.Fix = "run `docker image inspect " + kind.NodeImage + "` to see what the daemon says"
	case present:
		c.Status = StatusOK
		c.Detail = short + " present (kind " + kindVersion + "'s pinned node image)"
	case byTag:
		c.Status = StatusOK
		c.Detail = short + " present by its tag (loaded from an archive: Docker did not record its registry digest)"
	default:
		c.Status = StatusWarn
		c.Detail = short + " is not in Docker; 'meshgym up --platform kind' needs it"
		if len(nodes) > 0 {
			c.Detail += " (other node images present: " + strings.Join(nodes, ", ") + "; meshgym uses the pinned one)"
		}
		c.Fix = KindImageFix
	}
	return c
}

// kindVersion is the kind release whose node image is pinned.
const kindVersion = "v0.33.0"

// KindLister lists the kind clusters meshgym created that still exist
// (sandbox/kind's *KindClusters implements it).
type KindLister interface {
	List(ctx context.Context) ([]kind.ClusterInfo, error)
}

// newKindLister makes the default KindLister (the registry at
// kind.DefaultRegistryPath); tests replace it.
var newKindLister = func() (KindLister, func(), error) {
	kc, err := kind.NewKindClusters(kind.KindOptions{Logf: func(string, ...any) {}})
	if err != nil {
		return nil, nil, err
	}
	return kc, func() { kc.Close() }, nil
}

// kindListTimeout bounds listing the clusters (kind asks Docker which
// cluster containers exist).
const kindListTimeout = 3 * time.Second

// clustersCheck lists meshgym's kind clusters with their mesh.
func clustersCheck(ctx context.Context, l KindLister) Check {
	c := Check{Group: PlatformKind, Name: "clusters", Status: StatusOK}
	if l == nil {
		nl, closeL, err := newKindLister()
		if err != nil {
			c.Status = StatusWarn
			c.Detail = "cannot read meshgym's cluster registry: " + oneLine(err.Error())
			c.Fix = "set " + kind.RegistryEnv + " to a file path"
			return c
		}
		defer closeL()
		l = nl
	}
	lctx, cancel := context.WithTimeout(ctx, kindListTimeout)
	defer cancel()
	type result struct {
		cl  []kind.ClusterInfo
		err error
	}
	done := make(chan result, 1)
	go func() {
		cl, err := l.List(lctx)
		done <- result{cl, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-lctx.Done():
		r.err = fmt.Errorf("listing took longer than %s", kindListTimeout)
	}
	switch {
	case r.err != nil:
		c.Status = StatusWarn
		c.Detail = "cannot list meshgym's kind clusters: " + oneLine(r.err.Error())
		c.Fix = "run `docker ps --filter label=io.x-k8s.kind.cluster` to see the kind clusters; 'meshgym down' removes meshgym's"
	case len(r.cl) == 0:
		c.Detail = "none yet; 'meshgym up --platform kind --mesh istio' makes meshgym-istio"
	default:
		var names []string
		for _, cl := range r.cl {
			m := cl.Mesh
			if m == "" {
				m = "no mesh"
			}
			s := cl.Name + " (" + m
			if cl.EntryHostPort > 0 {
				s += ", http://127.0.0.1:" + strconv.Itoa(cl.EntryHostPort) + "/"
			}
			names = append(names, s+")")
		}
		c.Detail = strings.Join(names, ", ") + "; 'meshgym down' deletes them"
	}
	return c
}

// address is where published container ports are reached, and why.
type address struct {
	host   string
	source string // how it was chosen, for the detail line
}

// publishedAddress is where published ports are reached, as
// sandbox/docker.HostAddressFrom decides (TESTCONTAINERS_HOST_OVERRIDE when
// set, else 127.0.0.1 for a local daemon, else DOCKER_HOST's host).
func publishedAddress(o Options) address {
	host, source := docker.HostAddressFrom(o.Getenv)
	return address{host: host, source: source}
}

// isLoopback reports whether the address is this machine.
func (a address) isLoopback() bool {
	if a.host == "localhost" {
		return true
	}
	ip := net.ParseIP(a.host)
	return ip != nil && ip.IsLoopback()
}

// check is the "published ports" line. reach is the probe's attempt:
// nil when none was made.
func (a address) check(reach *reachResult) Check {
	c := Check{Group: PlatformDocker, Name: "published ports", Status: StatusOK}
	how := "; change it with " + envHostOverride + "=ADDRESS"
	base := a.host + " (" + a.source + ")"
	switch {
	case reach == nil:
		c.Detail = base + how + "; not tried"
	case reach.err != nil:
		c.Status = StatusFail
		c.Detail = base + ": the probe's published port " + reach.url + " did not answer: " + oneLine(reach.err.Error())
		c.Fix = "set " + envHostOverride + " to the address where this machine reaches the daemon's published ports (never a gateway guess)"
	default:
		c.Detail = base + ": reached the probe container at " + reach.url + how
	}
	return c
}

type reachResult struct {
	url string
	err error
}

type probeResult struct {
	network, container Check
	reach              *reachResult
}

// runProbe creates a user-defined bridge network, starts the sample-app
// image on it with its port published, calls it on addr, and removes both
// again, also when ctx is canceled: a create in flight runs to its end (on
// a context of its own, bounded by CreateTimeout) so that it cannot leave
// an object behind that the daemon finishes after we stopped looking, and
// removal runs on a context of its own too.
func runProbe(ctx context.Context, d Docker, image string, imagePresent bool, addr address) probeResult {
	var r probeResult
	suffix := randomSuffix()
	name := "meshgym-doctor-" + suffix
	labels := map[string]string{
		labelManaged:  "true",
		labelRun:      "doctor-" + suffix,
		labelOwnerPID: strconv.Itoa(os.Getpid()),
	}
	fixAgain := "run meshgym doctor again (the check was interrupted or ran out of time)"

	r.network = Check{Group: PlatformDocker, Name: "network", Status: StatusOK}
	netErr := settle(ctx, func(c context.Context) error { return d.CreateNetwork(c, name, labels) })
	if netErr != nil {
		// A create that timed out or was interrupted may still be
		// completed by the daemon (under load it finishes after the
		// client gave up): look for it until CleanupTimeout.
		removeEventually(ctx, func(c context.Context) (bool, error) { return d.RemoveNetwork(c, name) }, true)
		r.network.Status = StatusFail
		r.network.Detail = "cannot create a user-defined bridge network: " + oneLine(netErr.Error())
		r.network.Fix = "check the daemon's networking (iptables/nftables available, bridge module loaded, free address pools: docker network ls / prune)"
		if timedOut(netErr) {
			r.network.Fix = fmt.Sprintf("the daemon took over %v to create a network: check its load and log, then run meshgym doctor again", CreateTimeout)
		}
	}

	r.container = Check{Group: PlatformDocker, Name: "container", Status: StatusOK}
	switch {
	case !imagePresent:
		r.container.Status = StatusWarn
		r.container.Detail = "not tried: meshgym's sample-app image " + image + " is not built yet"
		r.container.Fix = "meshgym images build, then meshgym doctor again"
	case ctx.Err() != nil:
		r.container.Status = StatusFail
		r.container.Detail = "not tried: interrupted"
		r.container.Fix = fixAgain
	default:
		network := name
		if netErr != nil {
			network = ""
		}
		hostIP := ""
		if addr.isLoopback() {
			hostIP = "127.0.0.1" // nothing exposed beyond this machine
		}
		spec := ContainerSpec{
			Name: name, Image: image, Labels: labels, Network: network,
			Env:  []string{"NAME=doctor-probe", "LISTEN_ADDR=0.0.0.0:" + strconv.Itoa(probeAppPort)},
			Port: probeAppPort, HostIP: hostIP,
		}
		var startErr error
		r.container, r.reach, startErr = probeContainer(ctx, d, spec, addr)
		// Any failed start may leave a container the daemon completes
		// later (a timeout, or an interrupt mid-create): look for it.
		err := removeEventually(ctx, func(c context.Context) (bool, error) { return d.RemoveContainer(c, name) }, startErr != nil)
		if err != nil {
			r.container.Status = StatusFail
			r.container.Detail += "; removing it failed: " + oneLine(err.Error())
			r.container.Fix = "docker rm -f " + name + " (meshgym down also removes it)"
		}
	}

	if netErr == nil {
		if err := removeEventually(ctx, func(c context.Context) (bool, error) { return d.RemoveNetwork(c, name) }, false); err != nil {
			r.network.Status = StatusFail
			r.network.Detail = "created a user-defined bridge network but removing it failed: " + oneLine(err.Error())
			r.network.Fix = "docker network rm " + name + " (meshgym down also removes it)"
		} else if imagePresent && r.container.Status == StatusOK {
			r.network.Detail = "created a user-defined bridge network, ran the probe container on it, removed both"
		} else {
			r.network.Detail = "created and removed a user-defined bridge network"
		}
	}
	return r
}

// settle runs a create call to its end even when ctx is canceled, bounded
// by CreateTimeout.
func settle(ctx context.Context, create func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CreateTimeout)
	defer cancel()
	return create(cctx)
}

// removeEventually removes an object on a context of its own (bounded by
// CleanupTimeout). After a create that timed out (ghost) the daemon may
// still be making the object, so it keeps trying until it removed one or
// the time is up.
func removeEventually(ctx context.Context, remove func(context.Context) (removed bool, err error), ghost bool) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	for {
		removed, err := remove(cctx)
		if err != nil && cctx.Err() != nil && ghost {
			return nil // looked for the ghost until the time was up
		}
		if err != nil || removed || !ghost {
			return err
		}
		sleep(cctx, 250*time.Millisecond)
	}
}

// timedOut reports whether a Docker call ran out of time (its object may
// still appear).
func timedOut(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	low := strings.ToLower(err.Error())
	return strings.Contains(low, "deadline exceeded") || strings.Contains(low, "timeout")
}

// probeContainer creates and starts the container (to its end, see
// settle), waits until it runs with its port published, and calls the app
// on addr. The caller removes the container; startErr tells it whether the
// create timed out.
func probeContainer(ctx context.Context, d Docker, spec ContainerSpec, addr address) (c Check, reach *reachResult, startErr error) {
	c = Check{Group: PlatformDocker, Name: "container", Status: StatusFail}
	fixAgain := "run meshgym doctor again (the check was interrupted or ran out of time)"
	start := time.Now()
	if err := settle(ctx, func(cc context.Context) error { return d.StartContainer(cc, spec) }); err != nil {
		c.Detail = "cannot run a container of " + spec.Image + ": " + oneLine(err.Error())
		c.Fix = containerFix(err)
		if timedOut(err) {
			c.Fix = fmt.Sprintf("the daemon took over %v to create and start a container: check its load and log, then run meshgym doctor again", CreateTimeout)
		}
		return c, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	var st ContainerState
	for {
		var err error
		st, err = d.InspectContainer(ctx, spec.Name)
		if err == nil && (st.Exited || (st.Running && st.HostPort != 0)) {
			break
		}
		if ctx.Err() != nil {
			c.Fix = fixAgain
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				c.Detail = "started a container of " + spec.Image + "; interrupted while waiting for it to run"
				return c, nil, nil
			}
			c.Detail = "started a container of " + spec.Image + " but it was not running with its port published within " + ProbeTimeout.String()
			if st.Running {
				c.Detail += " (running, no port published)"
			}
			c.Fix = "check the daemon publishes ports (docker run -p 127.0.0.1::80 works?) and its load, then run meshgym doctor again"
			return c, nil, nil
		}
		sleep(ctx, 100*time.Millisecond)
	}
	if st.Exited {
		lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), PingTimeout)
		logs, _ := d.ContainerLogs(lctx, spec.Name)
		lcancel()
		c.Detail = fmt.Sprintf("a container of %s exited at once with code %d", spec.Image, st.ExitCode)
		if logs = lastLine(logs); logs != "" {
			c.Detail += ": " + logs
		}
		c.Fix = "rebuild the images (meshgym images build); if it persists, docker logs of a container of " + spec.Image + " tells why"
		return c, nil, nil
	}
	url := "http://" + net.JoinHostPort(addr.host, strconv.Itoa(st.HostPort)) + "/"
	rctx, rcancel := context.WithTimeout(ctx, reachTimeout)
	reach = &reachResult{url: url, err: httpGetUntil(rctx, url)}
	rcancel()
	c.Status = StatusOK
	c.Detail = fmt.Sprintf("created, started and removed a container of %s in %d ms", spec.Image, time.Since(start).Milliseconds())
	if reach.err != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// Interrupted: the reach result says nothing.
		reach = nil
	}
	return c, reach, nil
}

// containerFix words the remedy for a container that would not start.
func containerFix(err error) string {
	low := strings.ToLower(err.Error())
	switch {
	case strings.Contains(low, "cgroup"):
		return "the daemon cannot set up cgroups for a container: check `docker run --rm " + "IMAGE` works; rootless Docker needs cgroup v2 with systemd delegation"
	case strings.Contains(low, "permission denied") || strings.Contains(low, "operation not permitted"):
		return "the daemon lacks privileges to start containers here (nested container without --privileged?); run it with more privileges or use --platform local"
	case strings.Contains(low, "no such image") || strings.Contains(low, "not found"):
		return "meshgym images build"
	}
	return "check `docker run` works on this machine; `docker info` and the daemon's log say more"
}

// httpGetUntil calls url until it answers with a status below 500 or ctx
// ends; the app may need a moment after the container starts.
func httpGetUntil(ctx context.Context, url string) error {
	cl := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := cl.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		if ctx.Err() != nil {
			return last
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func lastLine(s string) string {
	lines := slices.DeleteFunc(strings.Split(strings.TrimSpace(s), "\n"), func(l string) bool { return strings.TrimSpace(l) == "" })
	if len(lines) == 0 {
		return ""
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
