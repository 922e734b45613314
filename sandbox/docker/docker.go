package docker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"meshgym/sandbox"
	"meshgym/sandbox/docker/images"
	"meshgym/sandbox/local"
)

// Image sources for Options.ImageSource.
const (
	// ImageSourceLocal runs meshgym's own sample-app and sidecar images,
	// built locally FROM scratch (the default).
	ImageSourceLocal = "local"
	// ImageSourceUpstream runs the upstream fake-service image
	// (images.Upstream) for the apps; sidecars stay meshgym's own.
	ImageSourceUpstream = "upstream"
)

// ImageSources lists the valid Options.ImageSource values.
var ImageSources = []string{ImageSourceLocal, ImageSourceUpstream}

// Ports inside every instance's network namespace. Each instance (app plus
// sidecar) has its own namespace, so the same numbers serve every one.
const (
	// AppPort is the sample app's port (fake-service's default 9090).
	AppPort = 9090
	// InboundPort is the sidecar's inbound listener: what callers reach.
	InboundPort = 8080
	// AdminPort is the sidecar's admin API (Envoy's customary 9901).
	AdminPort = 9901
	// outboundBase is the first outbound listener port (one per upstream
	// service, on 127.0.0.1: only the app in the same namespace calls it).
	outboundBase = 15001
)

// labelKind marks a container as "app" or "sidecar".
const labelKind = "dev.meshgym.kind"

// Options configure the Docker platform. Zero values mean defaults.
type Options struct {
	// ImageSource is ImageSourceLocal ("", the default) or
	// ImageSourceUpstream.
	ImageSource string
	// Executables are the lean static executables meshgym's images are
	// built from; zero finds them with images.FindExecutables.
	Executables images.Executables
	// Watchdog is the command (executable and leading arguments) that runs
	// WatchdogMain; nil means the running executable with WatchdogCommand
	// (`meshgym docker-watchdog`). A test binary must handle that argument
	// in its TestMain.
	Watchdog []string
	// PullTimeout bounds the pull of the upstream image (default
	// images.PullTimeout, 2 s).
	PullTimeout time.Duration
}

// Provider is the Docker platform.
type Provider struct {
	opts Options
}

var _ sandbox.Platform = (*Provider)(nil)

// New returns the Docker platform. It sets, when unset,
// TESTCONTAINERS_RYUK_DISABLED=true and (for a local daemon)
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1, and silences testcontainers-go's
// default logger (its lines would interleave with meshgym's output). The
// error is an unknown ImageSource.
func New(opts Options) (*Provider, error) {
	switch opts.ImageSource {
	case "":
		opts.ImageSource = ImageSourceLocal
	case ImageSourceLocal, ImageSourceUpstream:
	default:
		return nil, fmt.Errorf("unknown image source %q; use %s", opts.ImageSource, strings.Join(ImageSources, " or "))
	}
	configureTestcontainers()
	tclog.SetDefault(tclog.NewNoopLogger())
	return &Provider{opts: opts}, nil
}

// Name is "docker".
func (p *Provider) Name() string { return "docker" }

// Deploy deploys the topology: it checks the daemon (PingTimeout), removes
// leftovers of dead meshgym processes, builds or reuses the images
// (progress through spec.Logf), starts a watchdog, creates the run's
// network and starts every container, waiting for each one's READY line
// (spec.ReadyTimeout, default 60 s); spec.Logf hears what is being done
// (images built, containers starting, how long they took to be ready).
// App containers map ComponentHost to this machine (Docker 20.10+). On error it returns the partial
// deployment (when something was created), which the caller must tear
// down. A taken entry port with EntryPortStrict is a *local.PortInUseError.
func (p *Provider) Deploy(ctx context.Context, spec sandbox.DeploySpec) (sandbox.Deployment, error) {
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = 60 * time.Second
	}
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if spec.RunDir == "" {
		return nil, errors.New("docker: no run directory")
	}
	if err := os.MkdirAll(filepath.Join(spec.RunDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	cli, err := newClient()
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	ver, err := cli.ServerVersion(pctx, client.ServerVersionOptions{})
	cancel()
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w; hint: start the Docker daemon (`sudo systemctl start docker` or `dockerd`), or use --platform local", unreachable(cli, err))
	}
	if r, err := sweepLeftovers(ctx, cli); !r.Empty() {
		logf("removed leftovers of earlier meshgym runs that ended without cleaning up: %s", r)
	} else if err != nil {
		logf("could not remove leftovers of earlier runs: %v (`meshgym down` removes them)", err)
	}
	appImage, sidecarImage, err := p.images(ctx, cli, ver.Arch, logf)
	if err != nil {
		cli.Close()
		return nil, err
	}

	runID := sanitizeName(filepath.Base(filepath.Clean(spec.RunDir)))
	var rb [3]byte
	rand.Read(rb[:])
	deployID := hex.EncodeToString(rb[:])
	host, _ := os.Hostname()
	d := &deployment{
		cli:       cli,
		runDir:    spec.RunDir,
		runID:     runID,
		deployID:  deployID,
		endpoints: map[string][]sandbox.Endpoint{},
		byInst:    map[string]*ctr{},
		died:      make(chan sandbox.ComponentExit, 1),
		labels: map[string]string{
			LabelManaged: "true", LabelRun: runID, LabelOwnerPID: strconv.Itoa(os.Getpid()),
			LabelOwnerHost: host, LabelDeployment: deployID,
		},
		prefix:      "meshgym-" + trimTo(runID, 40) + "-" + deployID,
		hostGateway: apiAtLeast(ver.APIVersion, hostGatewayMinAPI),
	}
	d.waitCtx, d.waitCancel = context.WithCancel(context.Background())

	wdCmd := p.opts.Watchdog
	if len(wdCmd) == 0 {
		self, err := os.Executable()
		if err != nil {
			cli.Close()
			return nil, fmt.Errorf("docker: find own executable for the watchdog: %w", err)
		}
		wdCmd = []string{self, WatchdogCommand}
	}
	if d.wd, err = startWatchdog(wdCmd, runID, filepath.Join(spec.RunDir, "logs", "docker-watchdog.log")); err != nil {
		cli.Close()
		return nil, err
	}

	// An interrupted deploy (ctx cancelled: Ctrl-C) may have asked the
	// daemon for objects it creates after the client gave up waiting;
	// Teardown then looks again after a pause (interruptedRelist).
	defer func() {
		if ctx.Err() != nil {
			d.interrupted.Store(true)
		}
	}()

	d.network = d.prefix
	// The network is created to completion even when ctx is cancelled
	// meanwhile: a request cancelled on the client side after the daemon
	// made the network would leave one Teardown cannot yet see.
	if beforeNetworkCreate != nil {
		beforeNetworkCreate()
	}
	nctx, ncancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	_, err = cli.NetworkCreate(nctx, d.network, client.NetworkCreateOptions{Driver: "bridge", Labels: d.labels})
	ncancel()
	if err != nil {
		return d, fmt.Errorf("create network %s: %w", d.network, err)
	}
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("after creating network %s: %w", d.network, err)
	}
	plans, err := d.plan(spec, appImage, sidecarImage, p.opts.ImageSource == ImageSourceUpstream)
	if err != nil {
		return d, err
	}
	apps, sidecars := 0, 0
	for _, pl := range plans {
		apps++
		if pl.sidecar != nil {
			sidecars++
		}
	}
	what := fmt.Sprintf("%d app containers", apps)
	if sidecars > 0 {
		what += fmt.Sprintf(" and %d sidecars (each in its app's network namespace, as in a pod)", sidecars)
	}
	logf("starting %s on network %s; waiting until each is ready", what, d.network)
	started := time.Now()
	if err := d.start(ctx, spec, plans, logf); err != nil {
		return d, err
	}
	logf("containers ready in %.1fs", time.Since(started).Seconds())
	d.mu.Lock()
	d.running = true
	d.mu.Unlock()
	return d, nil
}

// images makes the images present and returns the app's and the sidecar's.
func (p *Provider) images(ctx context.Context, cli *client.Client, arch string, logf func(string, ...any)) (app, sidecar string, err error) {
	exe := p.opts.Executables
	if exe.App == "" || exe.Sidecar == "" {
		if exe, err = images.FindExecutables(); err != nil {
			return "", "", fmt.Errorf("docker images: %w", err)
		}
	}
	built, err := images.Ensure(ctx, cli, exe, arch, logf)
	if err != nil {
		return "", "", fmt.Errorf("docker images: %w", err)
	}
	if len(built) != 2 {
		return "", "", errors.New("docker images: not built")
	}
	app, sidecar = built[0].Ref, built[1].Ref
	if p.opts.ImageSource == ImageSourceUpstream {
		if err := images.Pull(ctx, cli, images.Upstream, p.opts.PullTimeout, logf); err != nil {
			return "", "", err
		}
		app = images.Upstream
	}
	return app, sidecar, nil
}

// sanitizeName keeps the characters Docker allows in names and label
// values we build names from.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), ".-_")
	if out == "" {
		out = "run"
	}
	return out
}

func trimTo(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ctrPlan is one container to start.
type ctrPlan struct {
	comp     sandbox.Component
	image    string
	env      map[string]string
	cmd      []string
	name     string
	alias    string
	exposed  []int          // container ports published on the host
	fixed    map[int]string // container port → fixed host port
	wait     wait.Strategy
	sidecar  *ctrPlan // the sidecar joining this app's namespace
	entry    bool     // publishes the entry port
	endpoint sandbox.Endpoint
	service  string
}

// plan builds the containers of every instance: an app container that owns
// the instance's network namespace (and publishes its ports), and a
// sidecar container joining it.
func (d *deployment) plan(spec sandbox.DeploySpec, appImage, sidecarImage string, upstream bool) ([]*ctrPlan, error) {
	insts, err := sandbox.Instances(spec.Topology)
	if err != nil {
		return nil, err
	}
	aliases := map[string]string{}
	used := map[string]bool{}
	for _, in := range insts {
		a := strings.ToLower(strings.ReplaceAll(in.Name, "_", "-"))
		a = strings.Trim(regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(a, "-"), "-")
		for base, i := a, 2; used[a] || a == ""; i++ {
			a = fmt.Sprintf("%s-%d", base, i)
		}
		used[a] = true
		aliases[in.Name] = a
	}
	first := map[string]string{} // service → alias:port of its first instance
	for _, in := range insts {
		if _, ok := first[in.Service.Name]; ok {
			continue
		}
		port := AppPort
		if in.Service.Sidecar {
			port = InboundPort
		}
		first[in.Service.Name] = aliases[in.Name] + ":" + strconv.Itoa(port)
	}
	var plans []*ctrPlan
	for _, in := range insts {
		seed := sandbox.ComponentSeed(spec.Seed, in.Name)
		alias := aliases[in.Name]
		var uris []string
		for i, up := range in.Service.Upstreams {
			if in.Service.Sidecar {
				uris = append(uris, "http://127.0.0.1:"+strconv.Itoa(outboundBase+i)+"/")
			} else if a, ok := first[up]; ok {
				uris = append(uris, "http://"+a+"/")
			}
		}
		env := map[string]string{}
		for _, kv := range sandbox.AppEnv(in, "0.0.0.0:"+strconv.Itoa(AppPort), uris, seed) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		// spec.Env wins over the component's own variables (OTel settings).
		for k, v := range spec.Env {
			env[k] = v
		}
		app := &ctrPlan{
			comp: sandbox.Component{Name: in.Version.Name, Instance: in.Name, Kind: sandbox.KindApp,
				Service: in.Service.Name, Version: in.Version.Name,
				Log: filepath.Join(spec.RunDir, "logs", in.Name+".log")},
			image: appImage, env: env, name: d.prefix + "-" + alias, alias: alias,
			fixed: map[int]string{}, entry: in.Entry, service: in.Service.Name,
		}
		if upstream {
			// fake-service prints no READY line; it logs its start.
			app.wait = wait.ForLog(`(?i)(starting|listening)`).AsRegexp().WithStartupTimeout(spec.ReadyTimeout).WithPollInterval(50 * time.Millisecond)
		} else {
			app.wait = wait.ForLog("READY ").WithStartupTimeout(spec.ReadyTimeout).WithPollInterval(50 * time.Millisecond)
		}
		if !in.Service.Sidecar {
			app.endpoint = sandbox.Endpoint{Name: in.Version.Name, Address: alias + ":" + strconv.Itoa(AppPort)}
			app.exposed = []int{AppPort}
			plans = append(plans, app)
			continue
		}
		app.exposed = []int{AdminPort}
		if in.Entry {
			app.exposed = append(app.exposed, InboundPort)
		}
		cmd := []string{"--name", in.Version.Name, "--admin", "0.0.0.0:" + strconv.Itoa(AdminPort),
			"--inbound", "0.0.0.0:" + strconv.Itoa(InboundPort), "--app", "127.0.0.1:" + strconv.Itoa(AppPort),
			"--seed", strconv.FormatInt(seed+1, 10)}
		for i, up := range in.Service.Upstreams {
			cmd = append(cmd, "--outbound", up+"=127.0.0.1:"+strconv.Itoa(outboundBase+i))
		}
		app.sidecar = &ctrPlan{
			comp: sandbox.Component{Name: in.Version.Name + "_sidecar", Instance: in.Name + "_sidecar",
				Kind: sandbox.KindSidecar, Service: in.Service.Name, Version: in.Version.Name,
				Log: filepath.Join(spec.RunDir, "logs", in.Name+"_sidecar.log")},
			image: sidecarImage, cmd: cmd, name: d.prefix + "-" + alias + "-sidecar", env: spec.Env,
			wait:     wait.ForLog("READY ").WithStartupTimeout(spec.ReadyTimeout).WithPollInterval(50 * time.Millisecond),
			endpoint: sandbox.Endpoint{Name: in.Version.Name, Address: alias + ":" + strconv.Itoa(InboundPort)},
			service:  in.Service.Name,
		}
		plans = append(plans, app)
	}
	d.order = map[string]int{}
	for i, pl := range plans {
		d.order[pl.comp.Instance] = 2 * i
		if pl.sidecar != nil {
			d.order[pl.sidecar.comp.Instance] = 2*i + 1
		}
		ep := pl.endpoint
		if pl.sidecar != nil {
			ep = pl.sidecar.endpoint
		}
		d.endpoints[pl.service] = append(d.endpoints[pl.service], ep)
	}
	return plans, nil
}

// entryPort picks the host port of the entry service, as the local
// platform does: spec.EntryPort when free, else (unless strict) a free one,
// said through logf. For a remote daemon the port cannot be checked here;
// the daemon's refusal is handled by the caller.
func entryPort(spec sandbox.DeploySpec, logf func(string, ...any)) (int, error) {
	free := func() (int, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	if spec.EntryPort == 0 {
		if !daemonIsLocal() {
			return 0, nil // the daemon picks
		}
		return free()
	}
	if !daemonIsLocal() {
		return spec.EntryPort, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(spec.EntryPort))
	if err != nil {
		if spec.EntryPortStrict {
			return 0, &local.PortInUseError{Port: spec.EntryPort}
		}
		port, ferr := free()
		if ferr == nil {
			logf("port %d is taken; the entry service listens on 127.0.0.1:%d instead", spec.EntryPort, port)
		}
		return port, ferr
	}
	l.Close()
	return spec.EntryPort, nil
}

// isPortTaken recognises the daemon's refusal to publish a taken port.
func isPortTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// start starts every instance, in parallel, the entry first (a taken entry
// port is retried with a free one unless strict).
func (d *deployment) start(ctx context.Context, spec sandbox.DeploySpec, plans []*ctrPlan, logf func(string, ...any)) error {
	var entry *ctrPlan
	var rest []*ctrPlan
	for _, pl := range plans {
		if pl.entry {
			entry = pl
		} else {
			rest = append(rest, pl)
		}
	}
	if entry == nil {
		return errors.New("topology: no entry instance")
	}
	entryCtrPort := AppPort
	if entry.sidecar != nil {
		entryCtrPort = InboundPort
	}
	errs := make([]error, len(rest))
	var wg sync.WaitGroup
	for i, pl := range rest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.startInstance(ctx, pl)
		}()
	}
	var entryErr error
	for attempt := 1; ; attempt++ {
		port, err := entryPort(spec, logf)
		if err != nil {
			entryErr = err
			break
		}
		if port != 0 {
			entry.fixed[entryCtrPort] = strconv.Itoa(port)
		} else {
			delete(entry.fixed, entryCtrPort)
		}
		entryErr = d.startInstance(ctx, entry)
		if entryErr == nil || !isPortTaken(entryErr) || attempt == 3 || ctx.Err() != nil {
			break
		}
		if spec.EntryPortStrict {
			entryErr = &local.PortInUseError{Port: spec.EntryPort}
			break
		}
		logf("port %s was taken meanwhile; starting the entry service again on another port", entry.fixed[entryCtrPort])
		d.removeInstance(entry)
		spec.EntryPort = 0
	}
	wg.Wait()
	if err := errors.Join(append([]error{entryErr}, errs...)...); err != nil {
		return err
	}
	// The entry URL: the published inbound (or app) port of the entry.
	e := d.byInst[entry.comp.Instance]
	hp, ok := e.hostPorts[entryCtrPort]
	if !ok {
		return fmt.Errorf("entry %s: no published port", entry.comp.Instance)
	}
	d.entry = "http://" + net.JoinHostPort(HostAddress(), hp) + "/"
	return nil
}

// ctr is one started container.
type ctr struct {
	comp      sandbox.Component
	id        string
	name      string
	hostPorts map[int]string // container port → host port (apps)
	exited    atomic.Bool
	stats     statsBox
}

// startInstance starts an app container and, when it has one, its sidecar
// in the app's network namespace.
func (d *deployment) startInstance(ctx context.Context, pl *ctrPlan) error {
	app, err := d.run(ctx, pl, "")
	if err != nil {
		return err
	}
	if pl.sidecar == nil {
		app.comp.MetricsURL = "http://" + net.JoinHostPort(HostAddress(), app.hostPorts[AppPort]) + "/metrics"
		d.setComp(app)
		return nil
	}
	admin := "http://" + net.JoinHostPort(HostAddress(), app.hostPorts[AdminPort])
	sc, err := d.run(ctx, pl.sidecar, app.id)
	if err != nil {
		return err
	}
	sc.comp.AdminURL = admin
	sc.comp.MetricsURL = admin + "/metrics"
	d.setComp(sc)
	return nil
}

func (d *deployment) setComp(c *ctr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byInst[c.comp.Instance].comp = c.comp
}

// run creates and starts one container with testcontainers-go and waits
// for its readiness; joinID is the app container whose network namespace a
// sidecar joins.
func (d *deployment) run(ctx context.Context, pl *ctrPlan, joinID string) (*ctr, error) {
	labels := map[string]string{labelKind: string(pl.comp.Kind)}
	for k, v := range d.labels {
		labels[k] = v
	}
	req := testcontainers.ContainerRequest{
		Image:      pl.image,
		Name:       pl.name,
		Env:        pl.env,
		Cmd:        pl.cmd,
		Labels:     labels,
		WaitingFor: pl.wait,
	}
	bind, _ := netip.ParseAddr(bindAddress())
	if joinID == "" {
		req.Networks = []string{d.network}
		req.NetworkAliases = map[string][]string{d.network: {pl.alias}}
		for _, p := range pl.exposed {
			req.ExposedPorts = append(req.ExposedPorts, strconv.Itoa(p)+"/tcp")
		}
	}
	req.HostConfigModifier = func(hc *container.HostConfig) {
		if joinID != "" {
			hc.NetworkMode = container.NetworkMode("container:" + joinID)
			return
		}
		if d.hostGateway {
			// host.docker.internal: this machine, where the trace
			// receiver listens (ComponentHostAddress).
			hc.ExtraHosts = append(hc.ExtraHosts, hostGatewayEntry)
		}
		hc.PortBindings = network.PortMap{}
		for _, p := range pl.exposed {
			hp := pl.fixed[p]
			port, _ := network.ParsePort(strconv.Itoa(p) + "/tcp")
			hc.PortBindings[port] = []network.PortBinding{{HostIP: bind, HostPort: hp}}
		}
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req, Started: true, Logger: tclog.NewNoopLogger(),
	})
	var id string
	if c != nil {
		id = c.GetContainerID()
	}
	cr := &ctr{comp: pl.comp, id: id, name: pl.name, hostPorts: map[int]string{}, stats: statsBox{first: make(chan struct{})}}
	if id != "" {
		d.mu.Lock()
		d.ctrs = append(d.ctrs, cr)
		d.byInst[pl.comp.Instance] = cr
		d.mu.Unlock()
	}
	if err != nil {
		msg := oneLine(err.Error())
		if id != "" {
			if t := d.logTail(id, 3); t != "" {
				msg += ": " + strings.ReplaceAll(t, "\n", " | ")
			}
		}
		return cr, fmt.Errorf("start %s %s: %s", pl.comp.Kind, pl.comp.Instance, msg)
	}
	if joinID == "" {
		insp, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return cr, fmt.Errorf("inspect %s: %w", pl.name, err)
		}
		for _, p := range pl.exposed {
			port, _ := network.ParsePort(strconv.Itoa(p) + "/tcp")
			bs := insp.Container.NetworkSettings.Ports[port]
			if len(bs) == 0 || bs[0].HostPort == "" {
				return cr, fmt.Errorf("%s: port %d is not published", pl.name, p)
			}
			cr.hostPorts[p] = bs[0].HostPort
		}
	}
	go d.watch(cr)
	go d.streamStats(cr)
	return cr, nil
}

// removeInstance removes an instance's containers (a failed entry start
// before a retry).
func (d *deployment) removeInstance(pl *ctrPlan) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range []*ctrPlan{pl.sidecar, pl} {
		if p == nil {
			continue
		}
		d.mu.Lock()
		c := d.byInst[p.comp.Instance]
		delete(d.byInst, p.comp.Instance)
		for i, x := range d.ctrs {
			if x == c {
				d.ctrs = append(d.ctrs[:i], d.ctrs[i+1:]...)
				break
			}
		}
		d.mu.Unlock()
		if c != nil {
			c.exited.Store(true)
			d.cli.ContainerRemove(ctx, c.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
}

// watch reports a container that stops while the deployment runs.
func (d *deployment) watch(c *ctr) {
	res := d.cli.ContainerWait(d.waitCtx, c.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var err error
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			err = errors.New(r.Error.Message)
		} else {
			err = fmt.Errorf("exit status %d", r.StatusCode)
			if r.StatusCode == 137 {
				err = errors.New("exit status 137 (killed)")
			}
		}
	case e := <-res.Error:
		if d.waitCtx.Err() != nil {
			return
		}
		err = e
	}
	c.exited.Store(true)
	d.mu.Lock()
	running := d.running
	d.mu.Unlock()
	if !running || d.stopping.Load() {
		return
	}
	comp := c.comp
	d.mu.Lock()
	if cur, ok := d.byInst[comp.Instance]; ok {
		comp = cur.comp
	}
	d.mu.Unlock()
	select {
	case d.died <- sandbox.ComponentExit{Component: comp, Err: fmt.Errorf("container %s: %w", c.name, err), LogTail: d.logTail(c.id, 5)}:
	default:
	}
}

// logTail returns the last n lines of a container's output.
func (d *deployment) logTail(id string, n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := d.copyLogs(ctx, id, &buf, strconv.Itoa(n)); err != nil {
		return ""
	}
	return strings.TrimRight(buf.String(), "\n")
}

// copyLogs writes a container's stdout and stderr (tail: "all" or a line
// count) to w.
func (d *deployment) copyLogs(ctx context.Context, id string, w io.Writer, tail string) error {
	rc, err := d.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail})
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = stdcopy.StdCopy(w, w, rc)
	return err
}

type deployment struct {
	cli       *client.Client
	runDir    string
	runID     string
	deployID  string
	labels    map[string]string
	prefix    string
	network   string
	entry     string
	endpoints map[string][]sandbox.Endpoint
	wd        *watchdog
	// hostGateway: the daemon maps "host-gateway" (ComponentHost).
	hostGateway bool

	waitCtx    context.Context
	waitCancel context.CancelFunc

	mu       sync.Mutex
	ctrs     []*ctr
	byInst   map[string]*ctr
	order    map[string]int // instance → position in Components
	running  bool
	stopping atomic.Bool
	// interrupted: Deploy returned with its ctx cancelled.
	interrupted atomic.Bool
	died        chan sandbox.ComponentExit
	torn        bool
	tornErr     error
}

var _ sandbox.ResourceReader = (*deployment)(nil)

func (d *deployment) EntryURL() string { return d.entry }

func (d *deployment) Endpoints(service string) []sandbox.Endpoint {
	return append([]sandbox.Endpoint(nil), d.endpoints[service]...)
}

// Components lists the started containers in topology order: each app,
// then its sidecar.
func (d *deployment) Components() []sandbox.Component {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]sandbox.Component, 0, len(d.ctrs))
	for _, c := range d.ctrs {
		out = append(out, c.comp)
	}
	sort.SliceStable(out, func(i, j int) bool { return d.order[out[i].Instance] < d.order[out[j].Instance] })
	return out
}

func (d *deployment) Died() <-chan sandbox.ComponentExit { return d.died }

// ReadResources reads one container's cumulative CPU time (user + system,
// seconds: cpu_stats.cpu_usage.total_usage) and its memory use in MB
// (2^20 bytes) without the page cache, as `docker stats` computes it
// (usage minus total_inactive_file on cgroup v1, inactive_file on v2; see
// docker/cli cli/command/container/stats_helpers.go
// calculateMemUsageUnixNoCache). The figures come from the Docker stats
// API: one stream per container (GET /containers/{id}/stats), which the
// daemon feeds once a second, so a reading is at most about 1 s old; a
// single request costs up to a second even with one-shot=true on Docker
// 20.10, too slow for sampling every component each second. Until a
// container's first sample arrives it waits (bounded by ctx); when its
// stream broke it falls back to one one-shot request. A container that
// exited or was removed returns an error wrapping sandbox.ErrGone; an
// unknown instance is an error too.
func (d *deployment) ReadResources(ctx context.Context, instance string) (cpuSeconds, memoryMB float64, err error) {
	d.mu.Lock()
	c := d.byInst[instance]
	d.mu.Unlock()
	if c == nil {
		return 0, 0, fmt.Errorf("docker: no component instance %q", instance)
	}
	if c.exited.Load() {
		return 0, 0, fmt.Errorf("container %s: %w", c.name, sandbox.ErrGone)
	}
	select {
	case <-c.stats.first:
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("stats of container %s: %w", c.name, ctx.Err())
	}
	c.stats.mu.Lock()
	st, broken := c.stats.last, c.stats.broken
	c.stats.mu.Unlock()
	if broken || st == nil {
		if st, err = d.oneShot(ctx, c); err != nil {
			return 0, 0, err
		}
	}
	if c.exited.Load() {
		return 0, 0, fmt.Errorf("container %s: %w", c.name, sandbox.ErrGone)
	}
	return float64(st.CPUStats.CPUUsage.TotalUsage) / 1e9, float64(memNoCache(st.MemoryStats)) / (1 << 20), nil
}

// statsBox holds the latest stats sample of one container.
type statsBox struct {
	first chan struct{} // closed at the first sample or when the stream ends
	mu    sync.Mutex
	last  *container.StatsResponse
	// broken: the stream ended while the container was running.
	broken bool
}

// streamStats keeps c.stats.last current from the daemon's stats stream
// until the deployment stops or the container does.
func (d *deployment) streamStats(c *ctr) {
	once := sync.OnceFunc(func() { close(c.stats.first) })
	defer once()
	defer func() {
		c.stats.mu.Lock()
		c.stats.broken = true
		c.stats.mu.Unlock()
	}()
	res, err := d.cli.ContainerStats(d.waitCtx, c.id, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		return
	}
	defer res.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(res.Body))
	for {
		var st container.StatsResponse
		if err := dec.Decode(&st); err != nil {
			return
		}
		if st.Read.IsZero() || (st.PidsStats.Current == 0 && st.CPUStats.CPUUsage.TotalUsage == 0) {
			// The daemon's sample of a stopped container is empty.
			continue
		}
		c.stats.mu.Lock()
		c.stats.last = &st
		c.stats.mu.Unlock()
		once()
	}
}

// oneShot reads one stats sample with one request.
func (d *deployment) oneShot(ctx context.Context, c *ctr) (*container.StatsResponse, error) {
	res, err := d.cli.ContainerStats(ctx, c.id, client.ContainerStatsOptions{Stream: false})
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("container %s: %w", c.name, sandbox.ErrGone)
		}
		return nil, fmt.Errorf("stats of container %s: %w", c.name, err)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(bufio.NewReader(res.Body)).Decode(&st); err != nil {
		return nil, fmt.Errorf("stats of container %s: %w", c.name, err)
	}
	if st.Read.IsZero() || (st.PidsStats.Current == 0 && st.CPUStats.CPUUsage.TotalUsage == 0) {
		return nil, fmt.Errorf("container %s is not running: %w", c.name, sandbox.ErrGone)
	}
	return &st, nil
}

// memNoCache is docker/cli's calculateMemUsageUnixNoCache.
func memNoCache(m container.MemoryStats) uint64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return m.Usage - v
	}
	return m.Usage
}

// createTimeout bounds the creation of the deployment's network, which
// runs to completion on the daemon even when Deploy's ctx is cancelled.
const createTimeout = 30 * time.Second

// interruptedRelist is how long Teardown of an interrupted Deploy waits
// before it lists the deployment's objects a second time, for those the
// daemon finished creating after the client stopped waiting.
var interruptedRelist = 1500 * time.Millisecond

// beforeNetworkCreate, when set (by tests), runs just before Deploy
// creates the network.
var beforeNetworkCreate func()

// Teardown writes every container's logs to the run directory's logs/,
// then force-removes every container and the network of the deployment
// (found by its labels, so partly started ones go too), within ctx and at
// most 20 s. It is safe to call twice (the second call returns the first
// one's result). When everything was removed it tells the watchdog "done";
// otherwise the watchdog tries again.
func (d *deployment) Teardown(ctx context.Context) error {
	d.stopping.Store(true)
	d.mu.Lock()
	if d.torn {
		d.mu.Unlock()
		return d.tornErr
	}
	d.torn = true
	ctrs := append([]*ctr(nil), d.ctrs...)
	d.mu.Unlock()
	d.waitCancel()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(c.comp.Log)
			if err != nil {
				return
			}
			defer f.Close()
			d.copyLogs(ctx, c.id, f, "all")
		}()
	}
	wg.Wait()
	filter := labelFilter(LabelManaged, "true", LabelRun, d.runID, LabelDeployment, d.deployID)
	_, err := removeLabelled(ctx, d.cli, filter)
	if err == nil && d.interrupted.Load() {
		// A container create cancelled on the client side may still
		// be completing on the daemon: look again.
		select {
		case <-time.After(interruptedRelist):
			_, err = removeLabelled(ctx, d.cli, filter)
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		err = fmt.Errorf("docker teardown: %w (`meshgym down` removes what is left)", err)
	}
	d.wd.release(err == nil)
	d.cli.Close()
	d.mu.Lock()
	d.tornErr = err
	d.mu.Unlock()
	return err
}
