package doctor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"meshgym/sandbox/docker"
)

// DockerClient is the Docker implementation on the Engine API (moby
// client, configured from DOCKER_HOST and the other DOCKER_* variables,
// API version negotiated: 1.40 and later). Ping and ImagesPresent are
// sandbox/docker's, so the doctor judges the daemon and the images as the
// Docker platform does.
type DockerClient struct {
	c *client.Client
}

var _ Docker = (*DockerClient)(nil)

// NewDockerClient returns a client for the daemon the environment names;
// nothing is contacted yet. The error is a malformed DOCKER_HOST (or
// TLS settings). Close releases it.
func NewDockerClient() (*DockerClient, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &DockerClient{c: c}, nil
}

// Close releases the client's connections.
func (d *DockerClient) Close() error { return d.c.Close() }

// Host is the daemon address, e.g. unix:///var/run/docker.sock.
func (d *DockerClient) Host() string { return d.c.DaemonHost() }

// Ping is sandbox/docker.Ping (bounded by its PingTimeout, 2 s).
func (d *DockerClient) Ping(ctx context.Context) (string, error) { return docker.Ping(ctx) }

// ImagesPresent is sandbox/docker.ImagesPresent.
func (d *DockerClient) ImagesPresent(ctx context.Context) (map[string]bool, error) {
	return docker.ImagesPresent(ctx)
}

// Info reads `docker info`.
func (d *DockerClient) Info(ctx context.Context) (DaemonInfo, error) {
	r, err := d.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return DaemonInfo{}, err
	}
	i := r.Info
	return DaemonInfo{
		CgroupDriver: i.CgroupDriver, CgroupVersion: i.CgroupVersion,
		SecurityOptions: i.SecurityOptions, MemoryLimit: i.MemoryLimit,
		Warnings: i.Warnings, OperatingSystem: i.OperatingSystem, KernelVersion: i.KernelVersion,
	}, nil
}

// ImagesOf lists the tagged local images of repository.
func (d *DockerClient) ImagesOf(ctx context.Context, repository string) ([]string, error) {
	r, err := d.c.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", repository)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, im := range r.Items {
		out = append(out, im.RepoTags...)
	}
	return out, nil
}

// ImagePresent inspects ref (a digest-pinned reference such as the kind
// node image is matched by its digest, as kind itself does); a missing
// image is false and no error.
func (d *DockerClient) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := d.c.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	}
	return false, err
}

// CreateNetwork creates a bridge network.
func (d *DockerClient) CreateNetwork(ctx context.Context, name string, labels map[string]string) error {
	_, err := d.c.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
	return err
}

// RemoveNetwork removes a network; a missing one is no error (removed
// false).
func (d *DockerClient) RemoveNetwork(ctx context.Context, name string) (bool, error) {
	_, err := d.c.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// StartContainer creates and starts the container.
func (d *DockerClient) StartContainer(ctx context.Context, s ContainerSpec) error {
	port, err := network.ParsePort(strconv.Itoa(s.Port) + "/tcp")
	if err != nil {
		return err
	}
	bind := network.PortBinding{}
	if s.HostIP != "" {
		ip, err := netip.ParseAddr(s.HostIP)
		if err != nil {
			return fmt.Errorf("host IP %q: %w", s.HostIP, err)
		}
		bind.HostIP = ip
	}
	opts := client.ContainerCreateOptions{
		Name: s.Name,
		Config: &container.Config{
			Image: s.Image, Env: s.Env, Labels: s.Labels,
			ExposedPorts: network.PortSet{port: struct{}{}},
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{port: {bind}},
		},
	}
	if s.Network != "" {
		opts.HostConfig.NetworkMode = container.NetworkMode(s.Network)
	}
	if _, err := d.c.ContainerCreate(ctx, opts); err != nil {
		return err
	}
	_, err = d.c.ContainerStart(ctx, s.Name, client.ContainerStartOptions{})
	return err
}

// InspectContainer reads the container's state and published port.
func (d *DockerClient) InspectContainer(ctx context.Context, name string) (ContainerState, error) {
	r, err := d.c.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return ContainerState{}, err
	}
	var st ContainerState
	if s := r.Container.State; s != nil {
		st.Running = s.Running
		st.Exited = !s.Running && (s.Status == "exited" || s.Status == "dead")
		st.ExitCode = s.ExitCode
	}
	if ns := r.Container.NetworkSettings; ns != nil {
		for p, binds := range ns.Ports {
			if p.Proto() != "tcp" || int(p.Num()) != probeAppPort {
				continue
			}
			for _, b := range binds {
				if n, err := strconv.Atoi(b.HostPort); err == nil && n > 0 {
					st.HostPort = n
					break
				}
			}
		}
	}
	return st, nil
}

// ContainerLogs returns the container's output (stdout and stderr, the
// last 20 lines).
func (d *DockerClient) ContainerLogs(ctx context.Context, name string) (string, error) {
	rc, err := d.c.ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := stdcopy.StdCopy(&b, &b, io.LimitReader(rc, 1<<16)); err != nil {
		return b.String(), err
	}
	return b.String(), nil
}

// RemoveContainer removes the container (killing it); a missing one is no
// error (removed false).
func (d *DockerClient) RemoveContainer(ctx context.Context, name string) (bool, error) {
	_, err := d.c.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}
