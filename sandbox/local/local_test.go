package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"meshgym/sandbox"
	"meshgym/scenarios"
)

func topo(t *testing.T) scenarios.Topology {
	t.Helper()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	return sc.Topology
}

func TestPlanRetries(t *testing.T) {
	plans, entry, err := plan(sandbox.DeploySpec{Topology: topo(t), EntryPort: 0, Seed: 9}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 8 {
		t.Fatalf("%d processes, want 8 (4 apps + 4 sidecars)", len(plans))
	}
	ports := map[string]bool{}
	var names []string
	for _, p := range plans {
		names = append(names, p.comp.Instance)
		for _, a := range append(append([]string{}, p.args...), p.env...) {
			for _, f := range strings.FieldsFunc(a, func(r rune) bool { return r == ',' || r == '=' || r == '/' }) {
				if strings.HasPrefix(f, "127.0.0.1:") {
					ports[f] = true
				}
			}
		}
	}
	slices.Sort(names)
	want := []string{"api", "api_sidecar", "currency_v1", "currency_v1_sidecar", "currency_v2", "currency_v2_sidecar", "payments", "payments_sidecar"}
	if !slices.Equal(names, want) {
		t.Errorf("instances %v, want %v", names, want)
	}
	// api: app, admin, inbound, outbound(payments); payments: same;
	// currency ×2: app, admin, inbound → 4+4+3+3 = 14 distinct addresses.
	if len(ports) != 14 {
		t.Errorf("%d distinct addresses, want 14: %v", len(ports), ports)
	}
	for _, p := range plans {
		if p.comp.Instance == "currency_v2" && !slices.Contains(p.env, "ERROR_RATE=0.5") {
			t.Errorf("currency_v2 env %v lacks ERROR_RATE=0.5", p.env)
		}
		if p.comp.Instance == "api_sidecar" && p.endpoint.Address != entry {
			t.Errorf("entry %s is not api's sidecar inbound %s", entry, p.endpoint.Address)
		}
		if p.comp.Instance == "payments" {
			if !slices.ContainsFunc(p.env, func(e string) bool { return strings.HasPrefix(e, "UPSTREAM_URIS=http://127.0.0.1:") }) {
				t.Errorf("payments must call currency through its sidecar: %v", p.env)
			}
		}
	}
}

func TestEntryPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	var notes []string
	logf := func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }
	_, entry, err := plan(sandbox.DeploySpec{Topology: topo(t), EntryPort: port}, logf)
	if err != nil {
		t.Fatal(err)
	}
	if entry == fmt.Sprintf("127.0.0.1:%d", port) || len(notes) != 1 || !strings.Contains(notes[0], "is taken") {
		t.Errorf("fallback: entry %s, notes %q", entry, notes)
	}
	_, _, err = plan(sandbox.DeploySpec{Topology: topo(t), EntryPort: port, EntryPortStrict: true}, logf)
	var pe *PortInUseError
	if !errors.As(err, &pe) || pe.Port != port {
		t.Errorf("strict: %v, want PortInUseError for %d", err, port)
	}
}

func TestPlanUnknownEntry(t *testing.T) {
	tp := topo(t)
	tp.Entry = "nosuch"
	if _, _, err := plan(sandbox.DeploySpec{Topology: tp}, t.Logf); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown entry: %v", err)
	}
}

// TestDeployRetriesBindFailures: a component that exits with the bind
// failure code makes Deploy start over with new ports, three times at most,
// and the error names the component.
func TestDeployRetriesBindFailures(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	exit3 := []string{"sh", "-c", "exit 3", "sh"}
	p := New(Executables{Sidecar: exit3, App: exit3})
	var notes []string
	d, err := p.Deploy(context.Background(), sandbox.DeploySpec{
		Topology: topo(t), RunDir: t.TempDir(), EntryPort: 0,
		Logf: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) },
	})
	if d != nil {
		defer d.Teardown(context.Background())
	}
	var bf *bindFailure
	if !errors.As(err, &bf) {
		t.Fatalf("error %v, want a bind failure", err)
	}
	if got := len(notes); got != 2 {
		t.Errorf("%d restarts noted, want 2: %q", got, notes)
	}
}
