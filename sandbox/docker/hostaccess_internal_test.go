package docker

import "testing"

func TestHostAddressFrom(t *testing.T) {
	tests := []struct {
		env          map[string]string
		addr, source string
	}{
		{nil, "127.0.0.1", HostSourceLocal},
		{map[string]string{"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "127.0.0.1", HostSourceLocal},
		{map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376"}, "10.1.2.3", HostSourceRemote},
		{map[string]string{"DOCKER_HOST": "tcp://localhost:2375"}, "127.0.0.1", HostSourceRemote},
		{map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376", EnvHostOverride: "192.168.5.5"}, "192.168.5.5", HostSourceOverride},
		{map[string]string{"DOCKER_HOST": "ssh-without-host"}, "127.0.0.1", HostSourceDefault},
	}
	for _, tc := range tests {
		addr, source := HostAddressFrom(func(k string) string { return tc.env[k] })
		if addr != tc.addr || source != tc.source {
			t.Errorf("%v: %q (%s), want %q (%s)", tc.env, addr, source, tc.addr, tc.source)
		}
	}
}

func TestAPIAtLeast(t *testing.T) {
	tests := []struct {
		have string
		want bool
	}{
		{"1.41", true}, {"1.52", true}, {"2.0", true}, {"1.40", false}, {"1.9", false}, {"", false}, {"x.y", false},
	}
	for _, tc := range tests {
		if got := apiAtLeast(tc.have, hostGatewayMinAPI); got != tc.want {
			t.Errorf("apiAtLeast(%q, %s) = %v, want %v", tc.have, hostGatewayMinAPI, got, tc.want)
		}
	}
}
