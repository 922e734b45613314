// Package local is the embedded platform: every service instance and every
// sidecar is its own OS process on 127.0.0.1, with ports chosen free and the
// entry service on localhost:8200 when that port is free. Children watch a
// pipe on their stdin and exit when it closes, so they die with meshgym on
// Linux, macOS and Windows alike.
package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meshgym/sandbox"
)

// DefaultEntryPort is where the entry service listens when free.
const DefaultEntryPort = 8200

// exitBind is the exit code of meshgym-sidecar and meshgym-app when they
// cannot bind a listen address (dataplane.ExitBind, sampleapps.ExitBind).
const exitBind = 3

// Provider is the local platform.
type Provider struct {
	exe Executables
}

var _ sandbox.Platform = (*Provider)(nil)

// New returns the local platform running the given executables; a zero
// Executables resolves them with ResolveExecutables.
func New(exe Executables) *Provider {
	if len(exe.Sidecar) == 0 || len(exe.App) == 0 {
		exe = ResolveExecutables()
	}
	return &Provider{exe: exe}
}

// Name is "local".
func (p *Provider) Name() string { return "local" }

// Note returns a remark about the executables in use (empty when lean ones
// were found).
func (p *Provider) Note() string { return p.exe.Note }

// PortInUseError says a port the user asked for is taken.
type PortInUseError struct{ Port int }

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d is already in use; hint: free it, or pass --port 0 to let meshgym pick a free one", e.Port)
}

// Deploy starts every component of the topology and waits until each has
// printed its READY line. On error it returns the partial deployment, which
// the caller must tear down.
func (p *Provider) Deploy(ctx context.Context, spec sandbox.DeploySpec) (sandbox.Deployment, error) {
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = 15 * time.Second
	}
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(filepath.Join(spec.RunDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	// Ports are chosen free, then bound by the children a moment later; if
	// another program takes one in between (e.g. two runs starting at once
	// both seeing 8200 free), start over with new ports.
	var d *deployment
	var err error
	for attempt := 1; ; attempt++ {
		d, err = p.deployOnce(ctx, spec, logf)
		var bf *bindFailure
		if err == nil || !errors.As(err, &bf) || attempt == 3 || ctx.Err() != nil {
			break
		}
		logf("%s could not bind its port (taken meanwhile); starting again with new ports", bf.instance)
		d.Teardown(context.Background())
	}
	if d == nil {
		return nil, err
	}
	return d, err
}

func (p *Provider) deployOnce(ctx context.Context, spec sandbox.DeploySpec, logf func(string, ...any)) (*deployment, error) {
	d := &deployment{died: make(chan sandbox.ComponentExit, 1), endpoints: map[string][]sandbox.Endpoint{}}
	plans, entryAddr, err := plan(spec, logf)
	if err != nil {
		return nil, err
	}
	d.entry = "http://" + entryAddr + "/"
	for _, pl := range plans {
		if pl.endpoint.Address != "" {
			d.endpoints[pl.service] = append(d.endpoints[pl.service], pl.endpoint)
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, len(plans))
	for i := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.start(ctx, p.exe, plans[i], spec)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return d, err
	}
	d.mu.Lock()
	d.running = true
	d.mu.Unlock()
	return d, nil
}

// bindFailure is a component that exited with the "cannot bind" code (3).
type bindFailure struct {
	instance string
	err      error
}

func (b *bindFailure) Error() string { return b.err.Error() }

// procPlan is one process to start.
type procPlan struct {
	comp     sandbox.Component
	service  string
	args     []string
	env      []string
	endpoint sandbox.Endpoint // set on the process callers reach
}

// plan assigns ports and builds the command line of every component.
func plan(spec sandbox.DeploySpec, logf func(string, ...any)) ([]procPlan, string, error) {
	topo := spec.Topology
	// Outbound listener port per (instance, upstream service), and the
	// address callers reach each instance on.
	var plans []procPlan
	entryAddr := ""
	taken := map[int]bool{}
	free := func() (int, error) {
		for {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			l.Close()
			if !taken[port] {
				taken[port] = true
				return port, nil
			}
		}
	}
	entryPort := func() (int, error) {
		if spec.EntryPort == 0 {
			return free()
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(spec.EntryPort))
		if err != nil {
			if spec.EntryPortStrict {
				return 0, &PortInUseError{Port: spec.EntryPort}
			}
			port, ferr := free()
			if ferr == nil {
				logf("port %d is taken; the entry service listens on 127.0.0.1:%d instead", spec.EntryPort, port)
			}
			return port, ferr
		}
		l.Close()
		taken[spec.EntryPort] = true
		return spec.EntryPort, nil
	}

	type inst struct {
		sandbox.Instance
		inbound   int // what callers reach
		app       int
		admin     int
		outbounds map[string]int
	}
	instances, err := sandbox.Instances(topo)
	if err != nil {
		return nil, "", err
	}
	var insts []*inst
	byService := map[string][]*inst{}
	for _, si := range instances {
		in := &inst{Instance: si, outbounds: map[string]int{}}
		svc := si.Service
		var err error
		if si.Entry {
			in.inbound, err = entryPort()
		} else {
			in.inbound, err = free()
		}
		if err != nil {
			return nil, "", err
		}
		if si.Entry {
			entryAddr = "127.0.0.1:" + strconv.Itoa(in.inbound)
		}
		if svc.Sidecar {
			if in.app, err = free(); err != nil {
				return nil, "", err
			}
			if in.admin, err = free(); err != nil {
				return nil, "", err
			}
			for _, up := range svc.Upstreams {
				if in.outbounds[up], err = free(); err != nil {
					return nil, "", err
				}
			}
		} else {
			in.app = in.inbound
		}
		insts = append(insts, in)
		byService[svc.Name] = append(byService[svc.Name], in)
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	for _, in := range insts {
		instName := in.Name
		ver, svc := in.Version, in.Service
		seed := sandbox.ComponentSeed(spec.Seed, instName)
		// Upstream URIs the app calls: its own sidecar's outbound listener,
		// or without a sidecar the upstream's first endpoint.
		var uris []string
		for _, up := range svc.Upstreams {
			if svc.Sidecar {
				uris = append(uris, "http://"+addr(in.outbounds[up])+"/")
			} else if ups := byService[up]; len(ups) > 0 {
				uris = append(uris, "http://"+addr(ups[0].inbound)+"/")
			}
		}
		ep := sandbox.Endpoint{Name: ver.Name, Address: addr(in.inbound)}
		appPlan := procPlan{
			comp: sandbox.Component{Name: ver.Name, Instance: instName, Kind: sandbox.KindApp,
				Service: svc.Name, Version: ver.Name},
			service: svc.Name,
			env:     sandbox.AppEnv(in.Instance, addr(in.app), uris, seed),
		}
		if !svc.Sidecar {
			appPlan.endpoint = ep
			appPlan.comp.MetricsURL = "http://" + addr(in.app) + "/metrics"
			plans = append(plans, appPlan)
			continue
		}
		plans = append(plans, appPlan)
		args := []string{"--name", ver.Name, "--admin", addr(in.admin),
			"--inbound", addr(in.inbound), "--app", addr(in.app),
			"--seed", strconv.FormatInt(seed+1, 10)}
		for _, up := range svc.Upstreams {
			args = append(args, "--outbound", up+"="+addr(in.outbounds[up]))
		}
		plans = append(plans, procPlan{
			comp: sandbox.Component{Name: ver.Name + "_sidecar", Instance: instName + "_sidecar",
				Kind: sandbox.KindSidecar, Service: svc.Name, Version: ver.Name,
				AdminURL: "http://" + addr(in.admin), MetricsURL: "http://" + addr(in.admin) + "/metrics"},
			service:  svc.Name,
			args:     args,
			endpoint: ep,
		})
	}
	return plans, entryAddr, nil
}

type proc struct {
	comp  sandbox.Component
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	log   *os.File
}

type deployment struct {
	entry     string
	endpoints map[string][]sandbox.Endpoint

	mu       sync.Mutex
	procs    []*proc
	running  bool
	stopping atomic.Bool
	died     chan sandbox.ComponentExit
	torn     bool
}

func (d *deployment) EntryURL() string { return d.entry }

func (d *deployment) Endpoints(service string) []sandbox.Endpoint {
	return append([]sandbox.Endpoint(nil), d.endpoints[service]...)
}

func (d *deployment) Components() []sandbox.Component {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]sandbox.Component, 0, len(d.procs))
	for _, p := range d.procs {
		out = append(out, p.comp)
	}
	return out
}

func (d *deployment) Died() <-chan sandbox.ComponentExit { return d.died }

// start launches one process and waits for its READY line.
func (d *deployment) start(ctx context.Context, exe Executables, pl procPlan, spec sandbox.DeploySpec) error {
	base := exe.App
	if pl.comp.Kind == sandbox.KindSidecar {
		base = exe.Sidecar
	}
	args := append(append([]string{}, base[1:]...), pl.args...)
	cmd := exec.Command(base[0], args...)
	cmd.Env = append(append(os.Environ(), pl.env...), specEnv(spec.Env)...)
	detach(cmd)
	logPath := filepath.Join(spec.RunDir, "logs", pl.comp.Instance+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("start %s: create log: %w", pl.comp.Instance, err)
	}
	pl.comp.Log = logPath
	cmd.Stderr = logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", pl.comp.Instance, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", pl.comp.Instance, err)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", pl.comp.Instance, err)
	}
	pl.comp.PID = int32(cmd.Process.Pid)
	p := &proc{comp: pl.comp, cmd: cmd, stdin: stdin, done: make(chan struct{}), log: logFile}
	d.mu.Lock()
	d.procs = append(d.procs, p)
	d.mu.Unlock()

	ready := make(chan error, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, err := br.ReadString('\n')
		if err != nil {
			ready <- fmt.Errorf("exited before it was ready")
		} else if !strings.HasPrefix(line, "READY") {
			ready <- fmt.Errorf("unexpected first line %q", strings.TrimSpace(line))
		} else {
			ready <- nil
		}
		// The rest of stdout goes to the log too.
		io.Copy(logFile, br)
	}()
	go func() {
		err := cmd.Wait()
		close(p.done)
		d.mu.Lock()
		running := d.running
		d.mu.Unlock()
		if running && !d.stopping.Load() {
			if err == nil {
				err = errors.New("exit status 0")
			}
			select {
			case d.died <- sandbox.ComponentExit{Component: p.comp, Err: err, LogTail: tail(logPath, 5)}:
			default:
			}
		}
	}()

	timer := time.NewTimer(spec.ReadyTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err != nil {
			p.cmd.Process.Kill()
			<-p.done
			err = fmt.Errorf("%s %s: %s%s", pl.comp.Kind, pl.comp.Instance, err, tailSuffix(logPath))
			if st := p.cmd.ProcessState; st != nil && st.ExitCode() == exitBind {
				return &bindFailure{instance: pl.comp.Instance, err: err}
			}
			return err
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("%s %s: not ready after %s%s", pl.comp.Kind, pl.comp.Instance, spec.ReadyTimeout, tailSuffix(logPath))
	case <-ctx.Done():
		return ctx.Err()
	}
}

// specEnv is DeploySpec.Env as KEY=VALUE entries in key order; appended
// last, they win over inherited variables of the same name (os/exec keeps
// the last value of a duplicated key).
func specEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Teardown closes every child's stdin pipe (children exit at once), waits up
// to 3 s, then kills whatever is left.
func (d *deployment) Teardown(ctx context.Context) error {
	d.stopping.Store(true)
	d.mu.Lock()
	if d.torn {
		d.mu.Unlock()
		return nil
	}
	d.torn = true
	procs := append([]*proc(nil), d.procs...)
	d.mu.Unlock()
	for _, p := range procs {
		p.stdin.Close()
	}
	deadline := time.NewTimer(3 * time.Second)
	defer deadline.Stop()
	var errs []error
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
		case <-ctx.Done():
		}
		select {
		case <-p.done:
		default:
			if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("kill %s (pid %d): %w", p.comp.Instance, p.comp.PID, err))
			}
			<-p.done
		}
		p.log.Close()
	}
	return errors.Join(errs...)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func tailSuffix(path string) string {
	t := strings.TrimSpace(tail(path, 3))
	if t == "" {
		return " (log: " + path + ")"
	}
	return ": " + strings.ReplaceAll(t, "\n", " | ") + " (log: " + path + ")"
}
