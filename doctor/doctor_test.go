package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshgym/plugins"
	"meshgym/sandbox/kind"
	"meshgym/sandbox/local"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	appImg     = "meshgym/sample-app:test"
	sidecarImg = "meshgym/sidecar:test"
)

// fakeApp is the test binary acting as the sample app (see TestMain).
func fakeApp(t *testing.T, mode string) local.Executables {
	t.Helper()
	t.Setenv("DOCTOR_FAKE_APP", mode)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return local.Executables{App: []string{self}, Sidecar: []string{self}}
}

func okInfo() DaemonInfo {
	return DaemonInfo{CgroupDriver: "systemd", CgroupVersion: "2", MemoryLimit: true,
		SecurityOptions: []string{"name=seccomp,profile=builtin", "name=cgroupns"}}
}

func bothPresent() map[string]bool { return map[string]bool{appImg: true, sidecarImg: true} }

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// want is the expected outcome of one check: its status and, when set, a
// text its detail and its fix must contain.
type want struct {
	status      Status
	detail, fix string
}

func TestRunDocker(t *testing.T) {
	tests := []struct {
		name       string
		docker     *fakeDocker
		dockerErr  error
		getenv     map[string]string
		checks     map[string]want // docker-group check name → outcome
		usable     []string
		dockerNote string
	}{
		{
			name:   "daemon socket missing",
			docker: &fakeDocker{pingErr: errors.New("docker daemon at unix:///fake/docker.sock is not reachable: dial unix /fake/docker.sock: connect: no such file or directory")},
			checks: map[string]want{
				"daemon":          {StatusFail, "cannot reach the daemon at unix:///fake/docker.sock", "start the daemon (systemctl start docker"},
				"published ports": {StatusOK, "127.0.0.1 (the daemon is local)", ""},
			},
			usable: []string{"local"},
		},
		{
			name:   "daemon socket not permitted",
			docker: &fakeDocker{pingErr: errors.New("docker daemon at unix:///fake/docker.sock is not reachable: dial unix /fake/docker.sock: connect: permission denied")},
			checks: map[string]want{"daemon": {StatusFail, "permission denied", "usermod -aG docker"}},
			usable: []string{"local"},
		},
		{
			name:   "daemon does not answer in time",
			docker: &fakeDocker{pingErr: context.DeadlineExceeded},
			checks: map[string]want{"daemon": {StatusFail, "deadline exceeded", "did not answer within 2s"}},
			usable: []string{"local"},
		},
		{
			name:      "no client: malformed DOCKER_HOST",
			dockerErr: errors.New(`docker client: unable to parse docker host "tcp//x"`),
			getenv:    map[string]string{"DOCKER_HOST": "tcp//x"},
			checks:    map[string]want{"daemon": {StatusFail, "no Docker client", `fix DOCKER_HOST (now "tcp//x")`}},
			usable:    []string{"local"},
		},
		{
			name:   "images missing",
			docker: &fakeDocker{info: okInfo(), present: map[string]bool{appImg: false, sidecarImg: false}},
			checks: map[string]want{
				"daemon":                 {StatusOK, "server 27.5.1", ""},
				"privileges and cgroups": {StatusOK, "rootful, cgroup v2, driver systemd", ""},
				"network":                {StatusOK, "created and removed a user-defined bridge network", ""},
				"container":              {StatusWarn, "not built yet", "meshgym images build"},
				"images":                 {StatusWarn, "not built yet: meshgym/sample-app:test, meshgym/sidecar:test", "meshgym images build"},
				"published ports":        {StatusOK, "not tried", ""},
			},
			usable:     []string{"local", "docker"},
			dockerNote: "images are built on the first --platform docker run",
		},
		{
			name:   "everything ok",
			docker: &fakeDocker{info: okInfo(), present: bothPresent(), state: ContainerState{Running: true}, serve: true},
			checks: map[string]want{
				"daemon":                 {StatusOK, "reached unix:///fake/docker.sock", ""},
				"privileges and cgroups": {StatusOK, "rootful", ""},
				"network":                {StatusOK, "ran the probe container on it, removed both", ""},
				"container":              {StatusOK, "created, started and removed a container of " + appImg, ""},
				"published ports":        {StatusOK, "reached the probe container at http://127.0.0.1:", ""},
				"images":                 {StatusOK, "present: " + appImg + ", " + sidecarImg, ""},
			},
			usable: []string{"local", "docker"}, // no kind node image, no cluster
		},
		{
			name:   "host override is used and shown",
			docker: &fakeDocker{info: okInfo(), present: bothPresent(), state: ContainerState{Running: true}, serve: true},
			getenv: map[string]string{envHostOverride: "127.0.0.1", "DOCKER_HOST": "tcp://10.0.0.9:2375"},
			checks: map[string]want{"published ports": {StatusOK, "127.0.0.1 (TESTCONTAINERS_HOST_OVERRIDE is set)", ""}},
			usable: []string{"local", "docker"}, // no kind node image, no cluster
		},
		{
			name:   "published port not reachable",
			docker: &fakeDocker{info: okInfo(), present: bothPresent(), state: ContainerState{Running: true}},
			checks: map[string]want{
				"container":       {StatusOK, "", ""},
				"published ports": {StatusFail, "did not answer", "set TESTCONTAINERS_HOST_OVERRIDE"},
			},
			usable: []string{"local"},
		},
		{
			name:   "probe container exits at once",
			docker: &fakeDocker{info: okInfo(), present: bothPresent(), state: ContainerState{Exited: true, ExitCode: 2}, logs: "READY?\nmeshgym-app: LISTEN_ADDR: want host:port\n"},
			checks: map[string]want{
				"container": {StatusFail, "exited at once with code 2: meshgym-app: LISTEN_ADDR: want host:port", "meshgym images build"},
				"network":   {StatusOK, "created and removed", ""},
			},
			usable: []string{"local"},
		},
		{
			name:   "container cannot start: cgroups",
			docker: &fakeDocker{info: okInfo(), present: bothPresent(), startErr: errors.New("OCI runtime create failed: unable to apply cgroup configuration")},
			checks: map[string]want{"container": {StatusFail, "cannot run a container of " + appImg, "cgroup v2"}},
			usable: []string{"local"},
		},
		{
			name:   "network cannot be created",
			docker: &fakeDocker{info: okInfo(), present: bothPresent(), state: ContainerState{Running: true}, serve: true, netErr: errors.New("could not find an available, non-overlapping IPv4 address pool")},
			checks: map[string]want{
				"network":   {StatusFail, "non-overlapping", "address pools"},
				"container": {StatusOK, "", ""},
			},
			usable: []string{"local"},
		},
		{
			name:   "rootless on cgroup v1: no stats",
			docker: &fakeDocker{info: DaemonInfo{CgroupDriver: "none", CgroupVersion: "1", SecurityOptions: []string{"name=seccomp,profile=default", "name=rootless"}}, present: bothPresent(), state: ContainerState{Running: true}, serve: true},
			checks: map[string]want{"privileges and cgroups": {StatusWarn, "rootless, cgroup v1, driver none: the stats API has no per-container CPU or memory", "cgroup v2"}},
			usable: []string{"local", "docker"}, // no kind node image, no cluster
		},
		{
			name:   "rootful cgroup v1 with daemon warnings",
			docker: &fakeDocker{info: DaemonInfo{CgroupDriver: "cgroupfs", CgroupVersion: "1", MemoryLimit: true, Warnings: []string{"WARNING: No swap limit support"}}, present: bothPresent(), state: ContainerState{Running: true}, serve: true},
			checks: map[string]want{"privileges and cgroups": {StatusWarn, "CPU seconds are exact; the daemon warns: No swap limit support", "compare memory figures within one platform"}},
			usable: []string{"local", "docker"}, // no kind node image, no cluster
		},
		{
			name:   "no memory controller",
			docker: &fakeDocker{info: DaemonInfo{CgroupDriver: "cgroupfs", CgroupVersion: "2"}, present: bothPresent(), state: ContainerState{Running: true}, serve: true},
			checks: map[string]want{"privileges and cgroups": {StatusWarn, "no memory cgroup controller", "cgroup_enable=memory"}},
			usable: []string{"local", "docker"}, // no kind node image, no cluster
		},
	}
	old := reachTimeout
	reachTimeout = 300 * time.Millisecond
	defer func() { reachTimeout = old }()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{
				Executables: fakeApp(t, "ready"),
				EntryPort:   closedPort(),
				DockerErr:   tc.dockerErr,
				AppImage:    appImg, SidecarImage: sidecarImg,
				Getenv:       env(tc.getenv),
				KindClusters: fakeKind{},
			}
			if tc.docker != nil {
				o.Docker = tc.docker
				defer tc.docker.close()
			}
			r := Run(context.Background(), o)
			got := map[string]Check{}
			for _, c := range r.Checks {
				if c.Group == PlatformDocker {
					got[c.Name] = c
				}
				if c.Status != StatusOK && c.Fix == "" {
					t.Errorf("%s/%s is %s without a fix line", c.Group, c.Name, c.Status)
				}
			}
			for name, w := range tc.checks {
				c, ok := got[name]
				if !ok {
					t.Errorf("no docker check %q; got %+v", name, r.Checks)
					continue
				}
				if c.Status != w.status || !strings.Contains(c.Detail, w.detail) || !strings.Contains(c.Fix, w.fix) {
					t.Errorf("%s = %s %q fix %q; want %s, detail containing %q, fix containing %q", name, c.Status, c.Detail, c.Fix, w.status, w.detail, w.fix)
				}
			}
			if !slices.Equal(r.Usable, tc.usable) {
				t.Errorf("usable = %v, want %v", r.Usable, tc.usable)
			}
			if r.ExitCode != 0 {
				t.Errorf("exit code %d with local usable, want 0", r.ExitCode)
			}
			if tc.dockerNote != "" && !strings.Contains(r.Platforms[1].Note, tc.dockerNote) {
				t.Errorf("docker note = %q, want %q", r.Platforms[1].Note, tc.dockerNote)
			}
			if tc.docker != nil {
				if left := tc.docker.leftovers(); len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
			}
		})
	}
}

// TestRunInterruptedCleansUp: Ctrl-C while the daemon is still starting
// the probe container lets the start finish, then removes the container
// and the network.
func TestRunInterruptedCleansUp(t *testing.T) {
	f := &fakeDocker{info: okInfo(), present: bothPresent(), startDelay: 400 * time.Millisecond, state: ContainerState{Running: true}, serve: true}
	defer f.close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	r := Run(ctx, Options{Executables: fakeApp(t, "ready"), EntryPort: closedPort(), Docker: f,
		AppImage: appImg, SidecarImage: sidecarImg, Getenv: env(nil)})
	if !r.Interrupted {
		t.Error("report not marked interrupted")
	}
	if f.spec.Name == "" {
		t.Fatal("the probe container was never created; the test tests nothing")
	}
	if left := f.leftovers(); len(left) > 0 {
		t.Errorf("left behind after an interrupt: %v", left)
	}
	var buf bytes.Buffer
	Text(&buf, r)
	if !strings.Contains(buf.String(), "interrupted: some checks did not run") {
		t.Errorf("text does not say interrupted:\n%s", buf.String())
	}
}

// TestNetworkCreateTimeoutGhost: a network create that timed out on our
// side but that the daemon completes later is still removed.
func TestNetworkCreateTimeoutGhost(t *testing.T) {
	f := &fakeDocker{info: okInfo(), present: map[string]bool{}, netGhost: 300 * time.Millisecond}
	r := Run(context.Background(), Options{Executables: fakeApp(t, "ready"), EntryPort: closedPort(), Docker: f,
		AppImage: appImg, SidecarImage: sidecarImg, Getenv: env(nil)})
	var net Check
	for _, c := range r.Checks {
		if c.Name == "network" {
			net = c
		}
	}
	if net.Status != StatusFail || !strings.Contains(net.Fix, "took over 5s to create a network") {
		t.Errorf("network = %s %q fix %q", net.Status, net.Detail, net.Fix)
	}
	if len(f.nets) == 0 {
		t.Fatal("the ghost network never appeared; the test tests nothing")
	}
	if left := f.leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestRunLocal(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	old := childTimeout
	childTimeout = 500 * time.Millisecond
	defer func() { childTimeout = old }()

	down := &fakeDocker{pingErr: errors.New("connect: no such file or directory")}
	tests := []struct {
		name     string
		mode     string
		note     string
		port     int
		checks   map[string]want
		usable   []string
		exitCode int
	}{
		{
			name: "local works",
			mode: "ready",
			checks: map[string]want{
				"executables":   {StatusOK, "lean meshgym-app and meshgym-sidecar in", ""},
				"child process": {StatusOK, "READY after", ""},
			},
			usable: []string{"local"},
		},
		{
			name:   "fallback executables",
			mode:   "ready",
			note:   "lean executables meshgym-sidecar/meshgym-app not found",
			checks: map[string]want{"executables": {StatusWarn, "lean executables not found", "make build"}},
			usable: []string{"local"},
		},
		{
			name:   "port taken",
			mode:   "ready",
			port:   takenPort,
			checks: map[string]want{"port " + strconv.Itoa(takenPort): {StatusWarn, "is taken", "run --port"}},
			usable: []string{"local"},
		},
		{
			name:     "child crashes: nothing works",
			mode:     "crash",
			checks:   map[string]want{"child process": {StatusFail, "exited before READY (exit status 3): meshgym-app: cannot listen on 127.0.0.1:0: boom", "executable"}},
			usable:   []string{},
			exitCode: ExitNoPlatform,
		},
		{
			name:     "child never ready",
			mode:     "hang",
			checks:   map[string]want{"child process": {StatusFail, "no READY line within 500ms", ""}},
			usable:   []string{},
			exitCode: ExitNoPlatform,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exe := fakeApp(t, tc.mode)
			exe.Note = tc.note
			port := tc.port
			if port == 0 {
				port = closedPort()
			}
			start := time.Now()
			r := Run(context.Background(), Options{Executables: exe, EntryPort: port, Docker: down, Getenv: env(nil)})
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Run took %v; a hung child must be bounded", d)
			}
			got := map[string]Check{}
			for _, c := range r.Checks {
				if c.Group == PlatformLocal {
					got[c.Name] = c
				}
			}
			for name, w := range tc.checks {
				c, ok := got[name]
				if !ok {
					t.Errorf("no local check %q in %+v", name, r.Checks)
					continue
				}
				if c.Status != w.status || !strings.Contains(c.Detail, w.detail) || !strings.Contains(c.Fix, w.fix) {
					t.Errorf("%s = %s %q fix %q; want %s, %q, fix %q", name, c.Status, c.Detail, c.Fix, w.status, w.detail, w.fix)
				}
			}
			if !slices.Equal(r.Usable, tc.usable) || r.ExitCode != tc.exitCode {
				t.Errorf("usable %v exit %d, want %v exit %d", r.Usable, r.ExitCode, tc.usable, tc.exitCode)
			}
		})
	}
}

type fakeFinder struct {
	found []plugins.Found
	err   error
}

func (f fakeFinder) Find() ([]plugins.Found, error) { return f.found, f.err }
func (f fakeFinder) Dir() (string, error)           { return "/home/u/.config/meshgym/plugins", nil }

func TestCheckPlugins(t *testing.T) {
	c := checkPlugins(fakeFinder{found: []plugins.Found{{Name: "builtin", Builtin: true}, {Name: "minimal", Path: "/p/meshgym-plugin-minimal"}}})
	if c.Status != StatusOK || c.Detail != "builtin (built in), minimal (/p/meshgym-plugin-minimal); plugin directory /home/u/.config/meshgym/plugins" {
		t.Errorf("plugins = %s %q", c.Status, c.Detail)
	}
	c = checkPlugins(fakeFinder{found: []plugins.Found{{Name: "builtin", Builtin: true}}, err: errors.New("read plugin directory: permission denied")})
	if c.Status != StatusWarn || !strings.Contains(c.Detail, "permission denied") || !strings.Contains(c.Fix, "MESHGYM_PLUGIN_DIR") {
		t.Errorf("unreadable directory = %s %q fix %q", c.Status, c.Detail, c.Fix)
	}
}

// TestKindChecks: the kind platform is usable when Docker answers; a
// missing pinned node image is a warning with the pull / offline fix,
// and meshgym's clusters are listed with their mesh.
func TestKindChecks(t *testing.T) {
	short, _, _ := strings.Cut(kind.NodeImage, "@")
	created := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		docker  *fakeDocker
		lister  KindLister
		want    map[string]Status // check name → status
		details map[string]string // check name → substring of the detail
		fix     map[string]string // check name → substring of the fix
		usable  bool              // the Docker platform's verdict, and kind's unless kindNot
		kindNot bool              // kind is not usable although Docker is
		note    string
	}{
		{
			name:   "ready",
			docker: &fakeDocker{present: map[string]bool{kind.NodeImage: true}},
			lister: fakeKind{clusters: []kind.ClusterInfo{
				{Name: "meshgym-istio", Mesh: "istio", EntryHostPort: 8200, Created: created},
				{Name: "meshgym-kind", EntryHostPort: 8201, Created: created}}},
			want: map[string]Status{"docker": StatusOK, "node image": StatusOK, "clusters": StatusOK},
			details: map[string]string{"node image": short + " present",
				"clusters": "meshgym-istio (istio, http://127.0.0.1:8200/), meshgym-kind (no mesh, http://127.0.0.1:8201/); 'meshgym down' deletes them"},
			usable: true,
		},
		{
			name:    "no node image",
			docker:  &fakeDocker{present: map[string]bool{}, nodes: []string{"kindest/node:v1.33.1"}},
			lister:  fakeKind{},
			want:    map[string]Status{"docker": StatusOK, "node image": StatusWarn, "clusters": StatusOK},
			details: map[string]string{"node image": short + " is not in Docker; 'meshgym up --platform kind' needs it (other node images present: kindest/node:v1.33.1", "clusters": "none yet"},
			fix:     map[string]string{"node image": "docker pull " + kind.NodeImage},
			usable:  true,
			kindNot: true,
			note:    "the node image is missing",
		},
		{
			name:   "no node image but a cluster already made",
			docker: &fakeDocker{present: map[string]bool{}},
			lister: fakeKind{clusters: []kind.ClusterInfo{{Name: "meshgym-istio", Mesh: "istio", EntryHostPort: 8200, Created: created}}},
			want:   map[string]Status{"docker": StatusOK, "node image": StatusWarn, "clusters": StatusOK},
			usable: true,
			note:   "the node image is missing",
		},
		{
			name:    "node image loaded from an archive",
			docker:  &fakeDocker{present: map[string]bool{short: true}},
			lister:  fakeKind{},
			want:    map[string]Status{"docker": StatusOK, "node image": StatusOK, "clusters": StatusOK},
			details: map[string]string{"node image": short + " present by its tag"},
			usable:  true,
		},
		{
			name:    "registry unreadable",
			docker:  &fakeDocker{present: map[string]bool{kind.NodeImage: true}},
			lister:  fakeKind{err: errors.New("registry /x/kind-clusters.json: permission denied")},
			want:    map[string]Status{"docker": StatusOK, "node image": StatusOK, "clusters": StatusWarn},
			details: map[string]string{"clusters": "cannot list meshgym's kind clusters: registry /x/kind-clusters.json: permission denied"},
			usable:  true,
		},
		{
			name:    "inspect fails",
			docker:  &fakeDocker{presentErr: errors.New("daemon busy")},
			lister:  fakeKind{},
			want:    map[string]Status{"docker": StatusOK, "node image": StatusWarn, "clusters": StatusOK},
			details: map[string]string{"node image": "could not look for " + short + ": daemon busy"},
			usable:  true,
			kindNot: true,
		},
		{
			name:    "docker down",
			docker:  &fakeDocker{pingErr: errors.New("connect: no such file or directory")},
			lister:  fakeKind{block: true},
			want:    map[string]Status{"docker": StatusFail},
			details: map[string]string{"docker": "kind runs on Docker, which is not reachable"},
			usable:  false,
			note:    "docker: kind runs on Docker",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Docker: tc.docker, KindClusters: tc.lister, Getenv: env(nil), AppImage: appImg, SidecarImage: sidecarImg}
			_, _, checks := checkDocker(context.Background(), o)
			got := map[string]Status{}
			for _, c := range checks {
				if c.Group != PlatformKind {
					t.Errorf("check %s in group %s", c.Name, c.Group)
				}
				got[c.Name] = c.Status
				if want, ok := tc.details[c.Name]; ok && !strings.Contains(c.Detail, want) {
					t.Errorf("%s detail %q, want it to contain %q", c.Name, c.Detail, want)
				}
				if want, ok := tc.fix[c.Name]; ok && !strings.Contains(c.Fix, want) {
					t.Errorf("%s fix %q, want it to contain %q", c.Name, c.Fix, want)
				}
				if c.Status != StatusOK && c.Fix == "" {
					t.Errorf("%s is %s without a fix", c.Name, c.Status)
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("checks %v, want %v", got, tc.want)
			}
			p := kindPlatform(checks, Platform{Name: PlatformDocker, Usable: tc.usable})
			if want := tc.usable && !tc.kindNot; p.Usable != want || !strings.Contains(p.Note, tc.note) {
				t.Errorf("platform %+v, want usable %v, note containing %q", p, want, tc.note)
			}
		})
	}
	// The offline fix names both ways of carrying the image.
	if !strings.Contains(KindImageFix, "meshgym images load FILE") || !strings.Contains(KindImageFix, "meshgym images save --mesh istio --node-image FILE") {
		t.Errorf("fix %q", KindImageFix)
	}
	// A lister that does not answer is bounded.
	if c := clustersCheck(context.Background(), fakeKind{block: true}); c.Status != StatusWarn || !strings.Contains(c.Detail, "longer than") {
		t.Errorf("blocked lister: %s %q", c.Status, c.Detail)
	}
}

func TestPublishedAddress(t *testing.T) {
	tests := []struct {
		env        map[string]string
		host, from string
	}{
		{nil, "127.0.0.1", "the daemon is local"},
		{map[string]string{"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "127.0.0.1", "the daemon is local"},
		{map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376"}, "10.1.2.3", "the host of DOCKER_HOST"},
		{map[string]string{"DOCKER_HOST": "tcp://localhost:2375"}, "127.0.0.1", "the host of DOCKER_HOST"},
		{map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376", envHostOverride: "192.168.5.5"}, "192.168.5.5", envHostOverride + " is set"},
	}
	for _, tc := range tests {
		a := publishedAddress(Options{Getenv: env(tc.env)})
		if a.host != tc.host || a.source != tc.from {
			t.Errorf("%v: %q (%s), want %q (%s)", tc.env, a.host, a.source, tc.host, tc.from)
		}
	}
}

// goldenReport is a fixed report for the rendering tests.
func goldenReport() Report {
	return Report{
		Checks: []Check{
			{Group: PlatformLocal, Name: "executables", Status: StatusOK, Detail: "lean meshgym-app and meshgym-sidecar in /opt/meshgym/bin"},
			{Group: PlatformLocal, Name: "port 8200", Status: StatusWarn, Detail: "127.0.0.1:8200 is taken (address already in use); runs use a free port instead and print it", Fix: "stop what listens on 8200, or choose another with run --port"},
			{Group: PlatformDocker, Name: "daemon", Status: StatusFail, Detail: "cannot reach the daemon at unix:///var/run/docker.sock: connect: no such file or directory", Fix: "start the daemon (systemctl start docker, or `dockerd &` as root); not installed? Debian: apt-get install docker.io"},
			{Group: PlatformKind, Name: "docker", Status: StatusFail, Detail: "kind runs on Docker, which is not reachable", Fix: "start Docker first (see docker above)"},
		},
		Platforms: []Platform{{Name: "local", Usable: true}, {Name: "docker", Note: "daemon not reachable"}, {Name: "kind", Note: "docker: kind runs on Docker, which is not reachable"}},
		Usable:    []string{"local"},
	}
}

func TestRender(t *testing.T) {
	var txt, js bytes.Buffer
	if err := Text(&txt, goldenReport()); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, goldenReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", txt.Bytes())
	golden(t, "report.json", js.Bytes())

	// The JSON shape programs rely on.
	var m struct {
		Checks []map[string]any `json:"checks"`
		Usable []string         `json:"usable"`
		Exit   *int             `json:"exit_code"`
	}
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Checks) != 4 || m.Exit == nil || *m.Exit != 0 || !slices.Equal(m.Usable, []string{"local"}) {
		t.Fatalf("json = %+v", m)
	}
	for _, k := range []string{"group", "name", "status", "detail", "fix"} {
		if _, ok := m.Checks[2][k]; !ok {
			t.Errorf("check has no %q: %v", k, m.Checks[2])
		}
	}
	if _, ok := m.Checks[0]["fix"]; ok {
		t.Errorf("an ok check carries a fix: %v", m.Checks[0])
	}

	// Nothing usable: the summary says none.
	r := goldenReport()
	r.Usable, r.ExitCode = []string{}, ExitNoPlatform
	txt.Reset()
	Text(&txt, r)
	if !strings.Contains(txt.String(), "usable platforms here: none\n") {
		t.Errorf("no usable platform:\n%s", txt.String())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./doctor -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./doctor -update rewrites it):\n%s", name, got)
	}
}
