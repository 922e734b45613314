package docker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"meshgym/sandbox"
	"meshgym/sandbox/docker"
	"meshgym/sandbox/docker/images"
	"meshgym/scenarios"
)

// connect returns a client for assertions on the daemon's state.
func connect(t *testing.T) *client.Client {
	t.Helper()
	cli, _, err := docker.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// labelled counts the containers and networks labelled with run ID run.
func labelled(t *testing.T, cli *client.Client, run string) (containers, networks int) {
	t.Helper()
	f := client.Filters{}.Add("label", docker.LabelRun+"="+run)
	cs, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs.Items), len(ns.Items)
}

// TestDockerImagesBuildReuse: images are reused while the executable is the
// same and rebuilt when its content changes.
func TestDockerImagesBuildReuse(t *testing.T) {
	needDocker(t)
	cli, arch, err := docker.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	if _, err := images.Ensure(ctx, cli, exe, arch, t.Logf); err != nil {
		t.Fatal(err)
	}
	var lines []string
	built, err := images.Ensure(ctx, cli, exe, arch, func(f string, a ...any) { lines = append(lines, f) })
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range built {
		if b.Rebuilt {
			t.Errorf("%s rebuilt although its executable did not change", b.Ref)
		}
	}
	if len(built) != 2 || len(lines) != 0 {
		t.Errorf("second Ensure: %+v, progress %q; want both reused silently", built, lines)
	}
	// A changed executable (one byte appended) rebuilds the app image only,
	// with a progress line naming the file.
	changed := filepath.Join(t.TempDir(), "meshgym-app")
	data, err := os.ReadFile(exe.App)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed, append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	lines = nil
	built, err = images.Ensure(ctx, cli, images.Executables{App: changed, Sidecar: exe.Sidecar}, arch, func(f string, a ...any) {
		lines = append(lines, strings.TrimSpace(fmtS(f, a...)))
	})
	// Put the test's image back whatever happened.
	defer images.Ensure(ctx, cli, exe, arch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !built[0].Rebuilt || built[1].Rebuilt {
		t.Errorf("after changing the app executable: %+v; want the app rebuilt, the sidecar reused", built)
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "building image meshgym/sample-app:") || !strings.Contains(lines[0], changed) || !strings.Contains(lines[0], " MB)") {
		t.Errorf("progress lines %q; want \"building image meshgym/sample-app:… FROM scratch with %s (… MB)…\"", lines, changed)
	}
	listed, err := images.List(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	app, sc := images.Refs()
	found := map[string]bool{}
	for _, im := range listed {
		found[im.Ref] = true
	}
	if !found[app] || !found[sc] {
		t.Errorf("List = %+v; want %s and %s", listed, app, sc)
	}
	present, err := docker.ImagesPresent(ctx)
	if err != nil || !present[app] || !present[sc] {
		t.Errorf("ImagesPresent = %v, %v; want both of meshgym's images present", present, err)
	}
}

// TestDockerCheckStatic: a dynamically linked executable is refused with
// the command that builds a static one.
func TestDockerCheckStatic(t *testing.T) {
	if err := images.CheckStatic(exeOr(t, exe.App), "amd64"); err != nil && strings.Contains(err.Error(), "dynamically") {
		t.Fatalf("the test's static build is refused: %v", err)
	}
	dyn := "/bin/ls"
	if _, err := os.Stat(dyn); err != nil {
		t.Skip("no /bin/ls to serve as a dynamically linked executable")
	}
	err := images.CheckStatic(dyn, "")
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") || !strings.Contains(err.Error(), images.BuildCommand) {
		t.Errorf("CheckStatic(%s) = %v; want a dynamically linked error with %q", dyn, err, images.BuildCommand)
	}
	if err := images.CheckStatic(exeOr(t, exe.App), "arm64"); err == nil && exe.App != "" {
		// The test builds for the daemon's architecture; on an arm64
		// daemon this case is the matching one.
		if out, _ := exec.Command("uname", "-m").Output(); !strings.Contains(string(out), "aarch64") {
			t.Errorf("CheckStatic accepted an amd64 executable for arm64")
		}
	}
}

func exeOr(t *testing.T, p string) string {
	if p == "" {
		t.Skip("no lean executables built (no Docker daemon)")
	}
	return p
}

// twoServices is api (no sidecar) → payments (with a sidecar): the entry
// works without any config pushed, through a sidecar's inbound listener.
func twoServices() scenarios.Topology {
	return scenarios.Topology{Entry: "api", Services: []scenarios.Service{
		{Name: "api", Upstreams: []string{"payments"}, Versions: []scenarios.Version{{Name: "api", Instances: 1}}},
		{Name: "payments", Sidecar: true, Versions: []scenarios.Version{{Name: "payments", Instances: 1}}},
	}}
}

// TestDockerDeploy deploys two services, calls the entry through its
// published port, reads container resources, kills one container (Died
// fires with its log tail) and tears down (nothing labelled remains, logs
// are written, a second Teardown is harmless).
func TestDockerDeploy(t *testing.T) {
	needDocker(t)
	cli := connect(t)
	runDir := filepath.Join(t.TempDir(), "20261201-000000-deploy")
	p := newProvider(t)
	ctx := context.Background()
	dep, err := p.Deploy(ctx, sandbox.DeploySpec{Topology: twoServices(), RunDir: runDir, Seed: 3, Logf: t.Logf})
	if dep != nil {
		defer dep.Teardown(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Base(runDir)
	if c, n := labelled(t, cli, run); c != 3 || n != 1 {
		t.Errorf("labelled objects: %d containers, %d networks; want 3 and 1", c, n)
	}
	if !strings.HasPrefix(dep.EntryURL(), "http://127.0.0.1:") {
		t.Errorf("EntryURL %q; want a port on 127.0.0.1", dep.EntryURL())
	}
	if eps := dep.Endpoints("payments"); len(eps) != 1 || eps[0].Address != "payments:8080" {
		t.Errorf("Endpoints(payments) = %v; want payments:8080 (the sidecar's inbound, by network alias)", eps)
	}
	for i := 0; i < 20; i++ {
		resp, err := http.Get(dep.EntryURL())
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Name          string
			Code          int
			UpstreamCalls map[string]struct {
				Name string
				Code int
			} `json:"upstream_calls"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || body.Name != "api" {
			t.Fatalf("GET entry: %d %+v %v; want 200 from api", resp.StatusCode, body, err)
		}
		up, ok := body.UpstreamCalls["http://payments:8080/"]
		if !ok || up.Code != 200 || up.Name != "payments" {
			t.Fatalf("api's upstream calls %+v; want payments answering 200 through payments:8080", body.UpstreamCalls)
		}
	}
	var sidecar, app sandbox.Component
	for _, c := range dep.Components() {
		if c.PID != 0 {
			t.Errorf("%s has PID %d; containers have none", c.Instance, c.PID)
		}
		switch c.Instance {
		case "payments_sidecar":
			sidecar = c
		case "payments":
			app = c
		}
	}
	resp, err := http.Get(sidecar.MetricsURL)
	if err != nil {
		t.Fatalf("sidecar metrics from the host: %v", err)
	}
	sc := bufio.NewScanner(resp.Body)
	seen := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "meshgym_requests_total{") && strings.Contains(sc.Text(), `name="payments"`) {
			seen = true
		}
	}
	resp.Body.Close()
	if !seen {
		t.Errorf("%s has no meshgym_requests_total for payments", sidecar.MetricsURL)
	}

	// Resources: CPU grows under load, memory is plausible.
	rr, ok := dep.(sandbox.ResourceReader)
	if !ok {
		t.Fatal("the Docker deployment does not implement sandbox.ResourceReader")
	}
	cpu1, mb1, err := rr.ReadResources(ctx, "payments_sidecar")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if r, err := http.Get(dep.EntryURL()); err == nil {
			r.Body.Close()
		}
	}
	time.Sleep(2200 * time.Millisecond) // the daemon's stats arrive once a second
	cpu2, mb2, err := rr.ReadResources(ctx, "payments_sidecar")
	if err != nil {
		t.Fatal(err)
	}
	if !(cpu2 > cpu1) || cpu1 < 0 {
		t.Errorf("sidecar CPU %.4f s then %.4f s after 300 requests; want it to grow", cpu1, cpu2)
	}
	for _, mb := range []float64{mb1, mb2} {
		if mb < 0.5 || mb > 500 {
			t.Errorf("sidecar memory %.1f MB; want a plausible 0.5–500 MB", mb)
		}
	}
	if _, _, err := rr.ReadResources(ctx, "nope"); err == nil {
		t.Error("ReadResources of an unknown instance: no error")
	}

	// docker kill of the payments app: Died reports it with its log tail.
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.
		Add("label", docker.LabelRun+"="+run).Add("label", "dev.meshgym.kind=app").Add("name", "-payments")})
	if err != nil || len(cs.Items) != 1 {
		t.Fatalf("find the payments container: %v %d", err, len(cs.Items))
	}
	if _, err := cli.ContainerKill(ctx, cs.Items[0].ID, client.ContainerKillOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ce := <-dep.Died():
		if ce.Component.Instance != "payments" || ce.Err == nil || !strings.Contains(ce.LogTail, "READY") {
			t.Errorf("Died: %+v (log tail %q); want payments with its log tail", ce.Component, ce.LogTail)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no Died after docker kill of the payments container")
	}
	if _, _, err := rr.ReadResources(ctx, "payments"); !errors.Is(err, sandbox.ErrGone) {
		t.Errorf("ReadResources of the killed container: %v; want sandbox.ErrGone", err)
	}

	if err := dep.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dep.Teardown(ctx); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if c, n := labelled(t, cli, run); c != 0 || n != 0 {
		t.Errorf("after Teardown: %d containers, %d networks labelled with the run remain", c, n)
	}
	if b, err := os.ReadFile(app.Log); err != nil || !strings.Contains(string(b), "READY") {
		t.Errorf("app log %s: %v %q; want the container's output", app.Log, err, b)
	}
}

// TestDockerEntryPortTaken: a taken entry port moves the entry to a free
// one (said through Logf), or fails with EntryPortStrict.
func TestDockerEntryPortTaken(t *testing.T) {
	needDocker(t)
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*netTCPAddr).Port
	p := newProvider(t)
	ctx := context.Background()
	topo := scenarios.Topology{Entry: "api", Services: []scenarios.Service{{Name: "api", Versions: []scenarios.Version{{Name: "api", Instances: 1}}}}}
	var notes []string
	dep, err := p.Deploy(ctx, sandbox.DeploySpec{Topology: topo, RunDir: filepath.Join(t.TempDir(), "taken"), EntryPort: port,
		Logf: func(f string, a ...any) { notes = append(notes, fmtS(f, a...)) }})
	if dep != nil {
		defer dep.Teardown(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dep.EntryURL(), ":"+itoa(port)+"/") || !strings.Contains(strings.Join(notes, "\n"), "is taken") {
		t.Errorf("entry %s, notes %q; want another port and a note", dep.EntryURL(), notes)
	}
	dep2, err := p.Deploy(ctx, sandbox.DeploySpec{Topology: topo, RunDir: filepath.Join(t.TempDir(), "strict"), EntryPort: port, EntryPortStrict: true})
	if dep2 != nil {
		dep2.Teardown(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("strict taken port: %v; want a port-in-use error", err)
	}
}

// TestDockerWatchdog: when the meshgym-side process is SIGKILLed, its
// watchdog removes everything labelled with the run.
func TestDockerWatchdog(t *testing.T) {
	needDocker(t)
	cli := connect(t)
	runDir := filepath.Join(t.TempDir(), "20261201-000000-killed")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperRunDir+"="+runDir, helperExeApp+"="+exe.App, helperExeSc+"="+exe.Sidecar)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "DEPLOYED" {
			t.Fatalf("helper: %s", l)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("helper did not deploy within 120 s")
	}
	run := filepath.Base(runDir)
	if c, n := labelled(t, cli, run); c == 0 || n == 0 {
		t.Fatalf("before the kill: %d containers, %d networks; want the deployment", c, n)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, n := labelled(t, cli, run)
		if c == 0 && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			wd, _ := os.ReadFile(filepath.Join(runDir, "logs", "docker-watchdog.log"))
			t.Fatalf("60 s after SIGKILL %d containers and %d networks of the run remain; watchdog log: %s", c, n, wd)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The watchdog logs what it removed right after removing it.
	var wd []byte
	for i := 0; i < 50 && !strings.Contains(string(wd), "removed"); i++ {
		time.Sleep(100 * time.Millisecond)
		wd, _ = os.ReadFile(filepath.Join(runDir, "logs", "docker-watchdog.log"))
	}
	if !strings.Contains(string(wd), "removed") {
		t.Errorf("watchdog log %q; want what it removed", wd)
	}
}

// TestDockerLeftoverSweep: objects whose owner process is dead are removed
// at the next sweep; those of a live owner stay.
func TestDockerLeftoverSweep(t *testing.T) {
	needDocker(t)
	cli := connect(t)
	ctx := context.Background()
	// A process that has exited: this binary as a watchdog without
	// arguments exits 2 at once.
	dead := exec.Command(os.Args[0], docker.WatchdogCommand)
	if err := dead.Run(); dead.ProcessState == nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	mk := func(name string, pid int) {
		t.Helper()
		labels := map[string]string{docker.LabelManaged: "true", docker.LabelRun: name, docker.LabelOwnerPID: itoa(pid), docker.LabelOwnerHost: host}
		if _, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
			t.Fatal(err)
		}
		app, _ := images.Refs()
		if _, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &container.Config{Image: app, Labels: labels}}); err != nil {
			t.Fatal(err)
		}
	}
	deadName := "meshgym-test-leftover-dead-" + itoa(os.Getpid())
	liveName := "meshgym-test-leftover-live-" + itoa(os.Getpid())
	mk(deadName, dead.Process.Pid)
	mk(liveName, os.Getpid())
	defer docker.RemoveRun(ctx, liveName)
	defer docker.RemoveRun(ctx, deadName)
	r, err := docker.SweepLeftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.String(), deadName) || strings.Contains(r.String(), liveName) {
		t.Errorf("swept %s; want %s's container and network, not %s's", r, deadName, liveName)
	}
	if c, n := labelled(t, cli, deadName); c+n != 0 {
		t.Errorf("dead owner's objects remain: %d containers, %d networks", c, n)
	}
	if c, n := labelled(t, cli, liveName); c != 1 || n != 1 {
		t.Errorf("live owner's objects: %d containers, %d networks; want them kept", c, n)
	}
	r, err = docker.RemoveRun(ctx, liveName)
	if err != nil || len(r.Containers) != 1 || len(r.Networks) != 1 {
		t.Errorf("RemoveRun: %s, %v", r, err)
	}
}

// TestDockerUpstreamImageOffline: with no registry reachable, the upstream
// fake-service image fails within about 2 s with a clear message.
func TestDockerUpstreamImageOffline(t *testing.T) {
	needDocker(t)
	present, err := docker.ImagesPresent(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if present[images.Upstream] {
		t.Skipf("%s is present here, so nothing is pulled", images.Upstream)
	}
	p, err := docker.New(docker.Options{Executables: exe, ImageSource: docker.ImageSourceUpstream})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: twoServices(), RunDir: filepath.Join(t.TempDir(), "upstream")})
	took := time.Since(start)
	if dep != nil {
		dep.Teardown(context.Background())
	}
	if err == nil {
		t.Fatal("Deploy with the upstream image succeeded with no registry reachable")
	}
	if !strings.Contains(err.Error(), images.Upstream) || !strings.Contains(err.Error(), "hint:") {
		t.Errorf("error %q; want the image named and a hint", err)
	}
	// The pull itself is bounded by 2 s; the rest of Deploy (ping, sweep,
	// image checks) gets a generous margin on a shared machine.
	if took > 2*time.Second+8*time.Second {
		t.Errorf("Deploy took %s to give up; want the pull bounded by 2 s", took)
	}
	if _, err := docker.New(docker.Options{ImageSource: "nope"}); err == nil {
		t.Error("New accepted image source \"nope\"")
	}
}

// TestDockerDeployCancelledAtNetwork: a deploy whose ctx is cancelled (as
// by Ctrl-C) while the network is being created still creates the network
// to completion, returns the cancellation with the partial deployment, and
// its Teardown leaves nothing labelled with the run.
func TestDockerDeployCancelledAtNetwork(t *testing.T) {
	needDocker(t)
	cli := connect(t)
	runDir := filepath.Join(t.TempDir(), "20261201-000000-cancelnet")
	run := filepath.Base(runDir)
	p := newProvider(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	docker.SetBeforeNetworkCreate(cancel)
	defer docker.SetBeforeNetworkCreate(nil)
	dep, err := p.Deploy(ctx, sandbox.DeploySpec{Topology: twoServices(), RunDir: runDir, Seed: 3})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Deploy: %v; want context.Canceled", err)
	}
	if dep == nil {
		t.Fatal("Deploy returned no partial deployment to tear down")
	}
	if _, n := labelled(t, cli, run); n != 1 {
		t.Errorf("after the cancelled deploy: %d networks labelled with the run; want 1 (created to completion)", n)
	}
	if err := dep.Teardown(context.Background()); err != nil {
		t.Errorf("Teardown: %v", err)
	}
	if c, n := labelled(t, cli, run); c != 0 || n != 0 {
		t.Errorf("after Teardown: %d containers, %d networks labelled with the run; want none", c, n)
	}
}
