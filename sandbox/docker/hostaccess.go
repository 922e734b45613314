package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// ComponentHost is the host name containers reach this machine by:
// Docker's conventional host.docker.internal, which every app container
// maps to the daemon's host-gateway address (ExtraHosts
// "host.docker.internal:host-gateway", Docker 20.10+, API 1.41; see
// https://docs.docker.com/reference/cli/docker/container/run/#add-host).
// A sidecar shares its app container's network namespace and /etc/hosts,
// so it resolves the name too. Docker Desktop defines the name itself.
const ComponentHost = "host.docker.internal"

// hostGatewayEntry is the ExtraHosts entry of every app container.
const hostGatewayEntry = ComponentHost + ":host-gateway"

// hostGatewayMinAPI is the first Engine API version whose daemon knows the
// special "host-gateway" address (Docker 20.10).
const hostGatewayMinAPI = "1.41"

// ComponentHostAddress tells where a server meshgym runs for the
// containers (the engine's OTLP trace receiver) must listen for them to
// reach it without it being published beyond this machine, and the host
// name they reach it by:
//   - Linux with a local daemon: listenIP is this machine's address on the
//     daemon's default bridge network (docker0, 172.17.0.1 by default: the
//     address Docker maps host-gateway to), componentHost is ComponentHost.
//     Containers on any bridge network reach it (packets to a host address
//     are not forwarded, so the inter-network isolation rules do not apply);
//     other machines do not, unless they route the bridge's private subnet
//     to this one.
//   - Docker Desktop (macOS, Windows): listenIP is 127.0.0.1, since Desktop
//     forwards host.docker.internal to the host's loopback.
//
// Errors: the daemon does not answer (within PingTimeout), is remote
// (DOCKER_HOST on another machine: its containers cannot reach this one's
// private addresses), is older than Docker 20.10 (no host-gateway), or
// its bridge network has no address on this machine (dockerd
// --bridge=none, or a daemon in another network namespace). The engine
// then records only the load generator's spans.
func (p *Provider) ComponentHostAddress(ctx context.Context) (listenIP, componentHost string, err error) {
	if !daemonIsLocal() {
		return "", "", errors.New("the Docker daemon is remote (DOCKER_HOST); its containers cannot reach this machine's private addresses")
	}
	cli, err := newClient()
	if err != nil {
		return "", "", err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	ver, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", "", unreachable(cli, err)
	}
	if !apiAtLeast(ver.APIVersion, hostGatewayMinAPI) {
		return "", "", fmt.Errorf("Docker %s (API %s) predates host-gateway (Docker 20.10, API %s)", ver.Version, ver.APIVersion, hostGatewayMinAPI)
	}
	if runtime.GOOS != "linux" {
		return "127.0.0.1", ComponentHost, nil
	}
	ip, err := networkGateway(ctx, cli, "bridge")
	if err != nil {
		return "", "", err
	}
	return ip, ComponentHost, nil
}

// NetworkGateway returns this machine's IPv4 address on the Docker
// network called name (its gateway): where a container on that network —
// or a kind node and its pods on network "kind" — reaches a server of
// this machine listening on that address. Linux with a local daemon only.
func NetworkGateway(ctx context.Context, name string) (string, error) {
	if !daemonIsLocal() || runtime.GOOS != "linux" {
		return "", errors.New("the containers cannot reach this machine's addresses (a remote daemon or Docker Desktop)")
	}
	cli, err := newClient()
	if err != nil {
		return "", err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	return networkGateway(ctx, cli, name)
}

func networkGateway(ctx context.Context, cli *client.Client, name string) (string, error) {
	res, err := cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect Docker network %s: %w", name, err)
	}
	var subnets []netip.Prefix
	for _, c := range res.Network.IPAM.Config {
		if c.Gateway.Is4() {
			return c.Gateway.String(), nil
		}
		if c.Subnet.Addr().Is4() {
			subnets = append(subnets, c.Subnet)
		}
	}
	// Docker 20.10 reports only the subnet of the default bridge: its
	// gateway is this machine's address inside that subnet (on docker0).
	if ip, ok := localAddressIn(subnets); ok {
		return ip.String(), nil
	}
	return "", fmt.Errorf("Docker network %s (%s) has no address on this machine", name, prefixes(subnets))
}

// localAddressIn returns this machine's first interface address inside one
// of the subnets.
func localAddressIn(subnets []netip.Prefix) (netip.Addr, bool) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		for _, s := range subnets {
			if s.Contains(ip) {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

func prefixes(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "no IPv4 subnet"
	}
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// apiAtLeast compares Engine API versions "1.41" ≥ "1.41".
func apiAtLeast(have, want string) bool {
	hMaj, hMin, ok1 := parseAPI(have)
	wMaj, wMin, ok2 := parseAPI(want)
	if !ok1 || !ok2 {
		return false
	}
	return hMaj > wMaj || (hMaj == wMaj && hMin >= wMin)
}

func parseAPI(v string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	maj, err1 := strconv.Atoi(a)
	mnr, err2 := strconv.Atoi(b)
	return maj, mnr, err1 == nil && err2 == nil
}
