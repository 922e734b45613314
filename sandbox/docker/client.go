package docker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"meshgym/sandbox/docker/images"
)

// PingTimeout bounds Ping: a daemon that does not answer within it counts as
// unreachable.
const PingTimeout = 2 * time.Second

// Environment variables testcontainers-go reads (see
// https://golang.testcontainers.org/features/configuration/).
const (
	envRyukDisabled = "TESTCONTAINERS_RYUK_DISABLED"
	// EnvHostOverride is the address of published container ports as
	// testcontainers-go reads it; meshgym reads it too (HostAddress).
	EnvHostOverride = "TESTCONTAINERS_HOST_OVERRIDE"
)

// newClient returns a Docker Engine API client configured from the
// environment (DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH,
// DOCKER_TLS_VERIFY; the default is the local socket). The API version is
// negotiated on the first request: moby client v0.6 speaks API 1.40 to 1.56,
// which covers Debian's docker.io 20.10 (API 1.41).
func newClient() (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return cli, nil
}

// configureTestcontainers sets, when unset, the environment testcontainers-go
// reads once per process: no Ryuk reaper (its image cannot be pulled here;
// meshgym cleans up by labels and a watchdog instead) and, for a local
// daemon, 127.0.0.1 as the address of published ports (testcontainers would
// otherwise guess the default gateway when running inside a container).
func configureTestcontainers() {
	if os.Getenv(envRyukDisabled) == "" {
		os.Setenv(envRyukDisabled, "true")
	}
	if os.Getenv(EnvHostOverride) == "" && daemonIsLocal() {
		os.Setenv(EnvHostOverride, "127.0.0.1")
	}
}

// daemonIsLocal reports whether DOCKER_HOST names a local socket (or is
// unset), so that ports the daemon publishes are reached on 127.0.0.1.
func daemonIsLocal() bool { return daemonIsLocalFrom(os.Getenv) }

// daemonIsLocalFrom is daemonIsLocal reading the environment through getenv.
func daemonIsLocalFrom(getenv func(string) string) bool {
	h := getenv("DOCKER_HOST")
	if h == "" {
		return true
	}
	u, err := url.Parse(h)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "unix", "npipe":
		return true
	case "tcp", "http", "https":
		host := u.Hostname()
		return host == "localhost" || host == "127.0.0.1" || host == "::1"
	}
	return false
}

// Sources of the address HostAddressFrom returns, as `meshgym doctor`
// shows them.
const (
	HostSourceOverride = EnvHostOverride + " is set"
	HostSourceLocal    = "the daemon is local"
	HostSourceRemote   = "the host of DOCKER_HOST"
	HostSourceDefault  = "default"
)

// HostAddress is the address published container ports are reached on from
// this machine: TESTCONTAINERS_HOST_OVERRIDE when set, else 127.0.0.1 for a
// local daemon, else the host of DOCKER_HOST (tcp://HOST:PORT). `meshgym
// doctor` shows it. It never guesses a gateway address.
func HostAddress() string {
	addr, _ := HostAddressFrom(os.Getenv)
	return addr
}

// HostAddressFrom is HostAddress reading the environment through getenv,
// with the reason it was chosen (source: one of HostSourceOverride,
// HostSourceLocal for an unset DOCKER_HOST or a unix/npipe socket,
// HostSourceRemote for tcp://HOST:PORT, where localhost and ::1 read as
// 127.0.0.1, HostSourceDefault for a DOCKER_HOST without a host).
func HostAddressFrom(getenv func(string) string) (addr, source string) {
	if h := getenv(EnvHostOverride); h != "" {
		return h, HostSourceOverride
	}
	dh := getenv("DOCKER_HOST")
	u, err := url.Parse(dh)
	if dh == "" || (err == nil && (u.Scheme == "unix" || u.Scheme == "npipe")) {
		return "127.0.0.1", HostSourceLocal
	}
	if err == nil && u.Hostname() != "" {
		if h := u.Hostname(); h == "localhost" || h == "::1" {
			return "127.0.0.1", HostSourceRemote
		}
		return u.Hostname(), HostSourceRemote
	}
	return "127.0.0.1", HostSourceDefault
}

// bindAddress is the host IP published ports are bound to: 127.0.0.1 for a
// local daemon (nothing is exposed beyond this machine), all addresses for
// a remote one (its ports must be reachable from here).
func bindAddress() string {
	if daemonIsLocal() {
		return "127.0.0.1"
	}
	return "0.0.0.0"
}

// Ping checks that the Docker daemon answers, within PingTimeout, and
// returns its server version ("20.10.24+dfsg1"). The error says the daemon
// is unreachable and names the address tried.
func Ping(ctx context.Context) (serverVersion string, err error) {
	cli, err := newClient()
	if err != nil {
		return "", err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	return ping(ctx, cli)
}

func ping(ctx context.Context, cli *client.Client) (string, error) {
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return "", unreachable(cli, err)
	}
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", unreachable(cli, err)
	}
	return v.Version, nil
}

// unreachable words a failed connection to the daemon.
func unreachable(cli *client.Client, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s", PingTimeout)
	}
	return fmt.Errorf("docker daemon at %s is not reachable: %w", cli.DaemonHost(), err)
}

// ImagesPresent reports which images the Docker platform uses are present in
// the daemon, keyed by reference: meshgym's own sample-app and sidecar
// images for this version (images.Refs) and the upstream fake-service
// image (images.Upstream). The error is a daemon that does not answer.
func ImagesPresent(ctx context.Context) (map[string]bool, error) {
	cli, err := newClient()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if _, err := ping(pctx, cli); err != nil {
		return nil, err
	}
	app, sidecar := images.Refs()
	out := map[string]bool{}
	for _, ref := range []string{app, sidecar, images.Upstream} {
		_, err := cli.ImageInspect(ctx, ref)
		switch {
		case err == nil:
			out[ref] = true
		case errdefs.IsNotFound(err):
			out[ref] = false
		default:
			return nil, fmt.Errorf("inspect image %s: %w", ref, err)
		}
	}
	return out, nil
}

// oneLine folds a multi-line message (daemon errors, logs) into one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")
}

// Connect returns an Engine API client for the daemon after checking that
// it answers (within PingTimeout), and the daemon's architecture in GOARCH
// spelling ("amd64"), which images must match. The caller closes the
// client. The error says the daemon is unreachable and names its address.
func Connect(ctx context.Context) (*client.Client, string, error) {
	cli, err := newClient()
	if err != nil {
		return nil, "", err
	}
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	v, err := cli.ServerVersion(pctx, client.ServerVersionOptions{})
	if err != nil {
		err = unreachable(cli, err)
		cli.Close()
		return nil, "", err
	}
	return cli, v.Arch, nil
}
