package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"meshgym/sandbox/kind"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary play the sample app for the local
// child-process check: DOCTOR_FAKE_APP=ready prints a READY line and exits
// when stdin closes; crash exits 3 with a message; hang never gets ready.
func TestMain(m *testing.M) {
	// No test reads the user's kind cluster registry or asks kind.
	newKindLister = func() (KindLister, func(), error) { return fakeKind{}, func() {}, nil }
	switch os.Getenv("DOCTOR_FAKE_APP") {
	case "ready":
		fmt.Println(`READY {"name":"doctor-probe","listen":"127.0.0.1:1"}`)
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "crash":
		fmt.Fprintln(os.Stderr, "meshgym-app: cannot listen on 127.0.0.1:0: boom")
		os.Exit(3)
	case "hang":
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeDocker is a Docker whose answers a test sets; it records what was
// created and removed.
type fakeDocker struct {
	pingErr    error
	info       DaemonInfo
	infoErr    error
	present    map[string]bool
	presentErr error
	nodes      []string
	netErr     error
	startErr   error
	// startDelay makes StartContainer create the container, then take this
	// long to start it (a slow daemon; an interrupt may come meanwhile).
	startDelay time.Duration
	// netGhost makes CreateNetwork time out while the daemon still makes
	// the network, which appears netGhost later.
	netGhost time.Duration
	state    ContainerState
	logs     string
	// serve answers the probe's HTTP call on the published port; false
	// publishes a port nothing listens on.
	serve bool

	mu               sync.Mutex
	nets, containers map[string]bool // name → still there
	spec             ContainerSpec
	srv              *httptest.Server
}

func (f *fakeDocker) Host() string { return "unix:///fake/docker.sock" }

func (f *fakeDocker) Ping(ctx context.Context) (string, error) {
	if f.pingErr != nil {
		return "", f.pingErr
	}
	return "27.5.1", nil
}

func (f *fakeDocker) Info(ctx context.Context) (DaemonInfo, error) { return f.info, f.infoErr }

func (f *fakeDocker) ImagesPresent(ctx context.Context) (map[string]bool, error) {
	return f.present, f.presentErr
}

func (f *fakeDocker) ImagesOf(ctx context.Context, repo string) ([]string, error) {
	return f.nodes, nil
}

func (f *fakeDocker) ImagePresent(ctx context.Context, ref string) (bool, error) {
	return f.present[ref], f.presentErr
}

func (f *fakeDocker) CreateNetwork(ctx context.Context, name string, labels map[string]string) error {
	if f.netErr != nil {
		return f.netErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nets == nil {
		f.nets = map[string]bool{}
	}
	if f.netGhost > 0 {
		time.AfterFunc(f.netGhost, func() {
			f.mu.Lock()
			f.nets[name] = true
			f.mu.Unlock()
		})
		return fmt.Errorf("Post \"http://%%2Fvar%%2Frun%%2Fdocker.sock/v1.41/networks/create\": %w", context.DeadlineExceeded)
	}
	f.nets[name] = true
	return nil
}

func (f *fakeDocker) RemoveNetwork(ctx context.Context, name string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.containers[f.spec.Name] && f.spec.Network == name {
		return false, errors.New("network has active endpoints")
	}
	if f.nets[name] {
		f.nets[name] = false
		return true, nil
	}
	return false, nil
}

func (f *fakeDocker) StartContainer(ctx context.Context, s ContainerSpec) error {
	f.mu.Lock()
	if f.containers == nil {
		f.containers = map[string]bool{}
	}
	f.containers[s.Name] = true
	f.spec = s
	f.mu.Unlock()
	if f.startDelay > 0 {
		select {
		case <-time.After(f.startDelay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.startErr
}

func (f *fakeDocker) InspectContainer(ctx context.Context, name string) (ContainerState, error) {
	st := f.state
	if st.Running {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.serve && f.srv == nil {
			f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"name":"doctor-probe","code":200}`)
			}))
		}
		if f.srv != nil {
			_, p, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
			st.HostPort, _ = strconv.Atoi(p)
		} else {
			st.HostPort = closedPort()
		}
	}
	return st, nil
}

func (f *fakeDocker) ContainerLogs(ctx context.Context, name string) (string, error) {
	return f.logs, nil
}

func (f *fakeDocker) RemoveContainer(ctx context.Context, name string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.containers[name] {
		f.containers[name] = false
		return true, nil
	}
	return false, nil
}

// leftovers lists what was created and not removed.
func (f *fakeDocker) leftovers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n, there := range f.nets {
		if there {
			out = append(out, "network "+n)
		}
	}
	for n, there := range f.containers {
		if there {
			out = append(out, "container "+n)
		}
	}
	return out
}

func (f *fakeDocker) close() {
	if f.srv != nil {
		f.srv.Close()
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

// fakeKind lists the clusters a test gives.
type fakeKind struct {
	clusters []kind.ClusterInfo
	err      error
	block    bool // List waits until its context ends
}

func (f fakeKind) List(ctx context.Context) ([]kind.ClusterInfo, error) {
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.clusters, f.err
}
