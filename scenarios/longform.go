package scenarios

import (
	"fmt"
	"strconv"

	yaml "github.com/goccy/go-yaml"
)

// The long form: apiVersion/kind, explicit topology, pattern policy, load
// and conditions; keys are the model's yaml tags. Marshal writes it and
// decodeLong reads it back to the same Scenario.

func decodeLong(d *decoder, root *node) *Scenario {
	s := &Scenario{}
	m := d.fields(root, "", "", "a scenario is a mapping of keys such as apiVersion:, kind: and topology:",
		key{name: "apiVersion"}, key{name: "kind"}, key{name: "name"}, key{name: "description"}, key{name: "seed"},
		key{name: "topology"}, key{name: "pattern"}, key{name: "load"}, key{name: "conditions"})
	if d.require(m, root, "apiVersion", "", "apiVersion", "start the file with apiVersion: "+APIVersion) {
		if v, ok := d.str(m["apiVersion"].val, "apiVersion", "apiVersion"); ok {
			s.APIVersion = v
		}
	}
	if d.require(m, root, "kind", "", "kind", "add kind: Scenario") {
		if v, ok := d.str(m["kind"].val, "kind", "kind"); ok {
			s.Kind = v
		}
	}
	if d.require(m, root, "name", "", "name", "name the scenario, e.g. name: retries") {
		if v, ok := d.ident(m["name"].val, "name", "name"); ok {
			s.Name = v
		}
	}
	if e, ok := m["description"]; ok {
		if v, ok := d.scalar(e.val, "description", "description", "text", "write one line of text, e.g. description: the mesh retries failed calls"); ok {
			s.Description = v
		}
	}
	if e, ok := m["seed"]; ok {
		if v, ok := d.scalar(e.val, "seed", "seed", "a whole number", "write a whole number, or leave seed out to get a new one each run"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				d.fail("seed", e.val, "seed", "write a whole number, or leave seed out to get a new one each run", "expected a whole number, found %s", e.val.describe())
			}
			s.Seed = n
			d.ref("seed", e.val, "seed")
		}
	}
	if d.require(m, root, "topology", "", "topology", "describe the services: topology: {entry: api, services: [...]}") {
		d.longTopology(s, m["topology"].val)
	}
	if d.require(m, root, "pattern", "", "pattern", "name the pattern: pattern: {kind: retries, retry: {...}}") {
		d.longPattern(s, m["pattern"].val)
	}
	if d.require(m, root, "load", "", "load", "describe the load: load: {duration: 200s, rps: 100, connections: 10}") {
		d.longLoad(s, m["load"].val)
	}
	if e, ok := m["conditions"]; ok {
		s.Conditions = d.decodeConditions(e.val, "conditions")
	}
	return s
}

func (d *decoder) longTopology(s *Scenario, n *node) {
	d.ref("topology", n, "topology")
	m := d.fields(n, "topology", "topology", "write topology: {entry: api, services: [{name: api, versions: [{name: api}]}]}", key{name: "entry"}, key{name: "services"})
	if d.require(m, n, "topology.entry", "topology", "entry", "name the service the load generator calls, e.g. entry: api") {
		if v, ok := d.ident(m["entry"].val, "topology.entry", "topology.entry"); ok {
			s.Topology.Entry = v
		}
	}
	if !d.require(m, n, "topology.services", "topology", "services", "list the services: services: [{name: api, versions: [{name: api}]}]") {
		return
	}
	items, _ := d.list(m["services"].val, "topology.services", "topology.services")
	for i, it := range items {
		path := fmt.Sprintf("topology.services[%d]", i)
		d.ref(path, it, path)
		sm := d.fields(it, path, path, "write each service as {name: payments, upstreams: [currency], versions: [{name: payments}]}", key{name: "name"}, key{name: "upstreams"}, key{name: "sidecar"}, key{name: "versions"})
		svc := Service{Sidecar: true}
		if d.require(sm, it, path+".name", path, "name", "name the service, e.g. name: payments") {
			if v, ok := d.ident(sm["name"].val, path+".name", path+".name"); ok {
				svc.Name = v
			}
		}
		if e, ok := sm["upstreams"]; ok {
			ups, _ := d.list(e.val, path+".upstreams", path+".upstreams")
			for j, u := range ups {
				upath := fmt.Sprintf("%s.upstreams[%d]", path, j)
				if v, ok := d.ident(u, upath, upath); ok {
					svc.Upstreams = append(svc.Upstreams, v)
				}
			}
		}
		if e, ok := sm["sidecar"]; ok {
			if v, ok := d.boolean(e.val, path+".sidecar", path+".sidecar"); ok {
				svc.Sidecar = v
			}
		}
		if d.require(sm, it, path+".versions", path, "versions", "list the versions, e.g. versions: [{name: "+svc.Name+"}]") {
			vs, _ := d.list(sm["versions"].val, path+".versions", path+".versions")
			for j, vn := range vs {
				svc.Versions = append(svc.Versions, d.longVersion(vn, fmt.Sprintf("%s.versions[%d]", path, j)))
			}
		}
		s.Topology.Services = append(s.Topology.Services, svc)
	}
}

func (d *decoder) longVersion(n *node, path string) Version {
	d.ref(path, n, path)
	m := d.fields(n, path, path, "write each version as {name: currency_v2, instances: 1, errorRate: 50}", key{name: "name"}, key{name: "instances"}, key{name: "weight"}, key{name: "errorRate"}, key{name: "errorCode"}, key{name: "latency"})
	v := Version{Instances: 1, ErrorCode: 500}
	if d.require(m, n, path+".name", path, "name", "name the version, e.g. name: currency_v2") {
		if s, ok := d.ident(m["name"].val, path+".name", path+".name"); ok {
			v.Name = s
		}
	}
	if e, ok := m["instances"]; ok {
		if x, ok := d.integer(e.val, path+".instances", path+".instances"); ok {
			v.Instances = x
		}
	}
	if e, ok := m["weight"]; ok {
		if x, ok := d.percent(e.val, path+".weight", path+".weight"); ok {
			v.Weight = x
		}
	}
	if e, ok := m["errorRate"]; ok {
		if x, ok := d.percent(e.val, path+".errorRate", path+".errorRate"); ok {
			v.ErrorRate = x
		}
	}
	if e, ok := m["errorCode"]; ok {
		if x, ok := d.integer(e.val, path+".errorCode", path+".errorCode"); ok {
			v.ErrorCode = x
		}
	}
	if e, ok := m["latency"]; ok {
		lp := path + ".latency"
		lm := d.fields(e.val, lp, lp, "write latency: {p50: 10ms, p90: 20ms, p99: 50ms}", key{name: "p50"}, key{name: "p90"}, key{name: "p99"})
		for _, q := range []struct {
			k string
			p *Duration
		}{{"p50", &v.Latency.P50}, {"p90", &v.Latency.P90}, {"p99", &v.Latency.P99}} {
			if e, ok := lm[q.k]; ok {
				if x, ok := d.duration(e.val, lp+"."+q.k, lp+"."+q.k); ok {
					*q.p = x
				}
			}
		}
	}
	return v
}

func (d *decoder) longPattern(s *Scenario, n *node) {
	d.ref("pattern", n, "pattern")
	m := d.fields(n, "pattern", "pattern", "write pattern: {kind: retries, retry: {service: currency, attempts: 3, retryOn: [5xx]}}", key{name: "kind"}, key{name: "retry"}, key{name: "circuitBreaker"}, key{name: "split"}, key{name: "sidecar"})
	if d.require(m, n, "pattern.kind", "pattern", "kind", "one of retries, sidecar_proxy, circuit_breaking, canary") {
		if v, ok := d.str(m["kind"].val, "pattern.kind", "pattern.kind"); ok {
			s.Pattern.Kind = v
		}
	}
	if e, ok := m["retry"]; ok {
		const p = "pattern.retry"
		d.ref(p, e.val, p)
		rm := d.fields(e.val, p, p, "write retry: {service: currency, attempts: 3, retryOn: [5xx, connect-failure]}", key{name: "service"}, key{name: "attempts"}, key{name: "retryOn"}, key{name: "perTryTimeout"}, key{name: "backoffBase"}, key{name: "preferNewHost"})
		r := &RetryPolicy{}
		if d.require(rm, e.val, p+".service", p, "service", "the upstream service whose calls are retried, e.g. service: currency") {
			r.Service, _ = d.ident(rm["service"].val, p+".service", p+".service")
		}
		if d.require(rm, e.val, p+".attempts", p, "attempts", "retries after the first try, e.g. attempts: 3") {
			r.Attempts, _ = d.integer(rm["attempts"].val, p+".attempts", p+".attempts")
		}
		if d.require(rm, e.val, p+".retryOn", p, "retryOn", "the failures retried, e.g. retryOn: [5xx, connect-failure]") {
			items, _ := d.list(rm["retryOn"].val, p+".retryOn", p+".retryOn")
			for i, it := range items {
				f := fmt.Sprintf("%s.retryOn[%d]", p, i)
				if v, ok := d.str(it, f, f); ok {
					r.RetryOn = append(r.RetryOn, v)
				}
			}
		}
		if x, ok := rm["perTryTimeout"]; ok {
			r.PerTryTimeout, _ = d.duration(x.val, p+".perTryTimeout", p+".perTryTimeout")
		}
		if x, ok := rm["backoffBase"]; ok {
			r.BackoffBase, _ = d.duration(x.val, p+".backoffBase", p+".backoffBase")
		}
		if x, ok := rm["preferNewHost"]; ok {
			r.PreferNewHost, _ = d.boolean(x.val, p+".preferNewHost", p+".preferNewHost")
		}
		s.Pattern.Retry = r
	}
	if e, ok := m["circuitBreaker"]; ok {
		const p = "pattern.circuitBreaker"
		d.ref(p, e.val, p)
		cm := d.fields(e.val, p, p, "write circuitBreaker: {service: payments, errorThreshold: 2, ejectionDuration: 60s}", key{name: "service"}, key{name: "errorThreshold"}, key{name: "ejectionDuration"})
		cb := &CircuitBreakerPolicy{}
		if d.require(cm, e.val, p+".service", p, "service", "the upstream service whose endpoints are ejected, e.g. service: payments") {
			cb.Service, _ = d.ident(cm["service"].val, p+".service", p+".service")
		}
		if d.require(cm, e.val, p+".errorThreshold", p, "errorThreshold", "consecutive errors that eject an endpoint, e.g. errorThreshold: 2") {
			cb.ErrorThreshold, _ = d.integer(cm["errorThreshold"].val, p+".errorThreshold", p+".errorThreshold")
		}
		if d.require(cm, e.val, p+".ejectionDuration", p, "ejectionDuration", "how long an endpoint stays ejected, e.g. ejectionDuration: 60s") {
			cb.EjectionDuration, _ = d.duration(cm["ejectionDuration"].val, p+".ejectionDuration", p+".ejectionDuration")
		}
		s.Pattern.CircuitBreaker = cb
	}
	if e, ok := m["split"]; ok {
		const p = "pattern.split"
		d.ref(p, e.val, p)
		sm := d.fields(e.val, p, p, "write split: {service: payments, targets: [{version: payments_v1, weight: 90}, {version: payments_v2, weight: 10}]}", key{name: "service"}, key{name: "targets"})
		sp := &SplitPolicy{}
		if d.require(sm, e.val, p+".service", p, "service", "the service whose versions share the traffic, e.g. service: payments") {
			sp.Service, _ = d.ident(sm["service"].val, p+".service", p+".service")
		}
		if d.require(sm, e.val, p+".targets", p, "targets", "list versions and weights: targets: [{version: payments_v1, weight: 90}, {version: payments_v2, weight: 10}]") {
			items, _ := d.list(sm["targets"].val, p+".targets", p+".targets")
			for i, it := range items {
				tp := fmt.Sprintf("%s.targets[%d]", p, i)
				d.ref(tp, it, tp)
				tm := d.fields(it, tp, tp, "write each target as {version: payments_v1, weight: 90}", key{name: "version"}, key{name: "weight"})
				var t WeightedTarget
				if d.require(tm, it, tp+".version", tp, "version", "name a version of "+sp.Service) {
					t.Version, _ = d.ident(tm["version"].val, tp+".version", tp+".version")
				}
				if d.require(tm, it, tp+".weight", tp, "weight", "the share of traffic in percent, e.g. weight: 50") {
					t.Weight, _ = d.percent(tm["weight"].val, tp+".weight", tp+".weight")
				}
				sp.Targets = append(sp.Targets, t)
			}
		}
		s.Pattern.Split = sp
	}
	if e, ok := m["sidecar"]; ok {
		const p = "pattern.sidecar"
		d.ref(p, e.val, p)
		sm := d.fields(e.val, p, p, "write sidecar: {protocol: http}", key{name: "protocol"})
		sp := &SidecarPolicy{}
		if d.require(sm, e.val, p+".protocol", p, "protocol", "protocol: http") {
			sp.Protocol, _ = d.str(sm["protocol"].val, p+".protocol", p+".protocol")
		}
		s.Pattern.Sidecar = sp
	}
}

func (d *decoder) longLoad(s *Scenario, n *node) {
	d.ref("load", n, "load")
	m := d.fields(n, "load", "load", "write load: {duration: 200s, rps: 100, connections: 10}", key{name: "duration"}, key{name: "rps"}, key{name: "connections"})
	if d.require(m, n, "load.duration", "load", "duration", "how long each phase runs, e.g. duration: 200s") {
		s.Load.Duration, _ = d.duration(m["duration"].val, "load.duration", "load.duration")
	}
	if d.require(m, n, "load.rps", "load", "rps", "total requests per second; 0 = as fast as possible") {
		s.Load.RPS, _ = d.number(m["rps"].val, "load.rps", "load.rps")
	}
	if d.require(m, n, "load.connections", "load", "connections", "concurrent connections, e.g. connections: 10") {
		s.Load.Connections, _ = d.integer(m["connections"].val, "load.connections", "load.connections")
	}
}

// ---- Marshal ----

// num is a float64 written in its shortest form (50, not 50.0).
type num float64

// MarshalYAML writes the number without a trailing .0.
func (n num) MarshalYAML() ([]byte, error) { return []byte(formatNumber(float64(n))), nil }

// longDoc is the long form's layout: the model with numbers written plainly,
// short lists in flow style and conditions as {condition, value, tolerance}.
type longDoc struct {
	APIVersion  string          `yaml:"apiVersion"`
	Kind        string          `yaml:"kind"`
	Name        string          `yaml:"name"`
	Description string          `yaml:"description,omitempty"`
	Seed        int64           `yaml:"seed,omitempty"`
	Topology    longTopology    `yaml:"topology"`
	Pattern     longPattern     `yaml:"pattern"`
	Load        longLoad        `yaml:"load"`
	Conditions  []longCondition `yaml:"conditions,omitempty"`
}

type longTopology struct {
	Entry    string        `yaml:"entry"`
	Services []longService `yaml:"services"`
}

type longService struct {
	Name      string        `yaml:"name"`
	Upstreams []string      `yaml:"upstreams,omitempty,flow"`
	Sidecar   bool          `yaml:"sidecar"`
	Versions  []longVersion `yaml:"versions"`
}

type longVersion struct {
	Name      string   `yaml:"name"`
	Instances int      `yaml:"instances"`
	Weight    num      `yaml:"weight,omitempty"`
	ErrorRate num      `yaml:"errorRate"`
	ErrorCode int      `yaml:"errorCode,omitempty"`
	Latency   *Latency `yaml:"latency,omitempty"`
}

type longPattern struct {
	Kind           string                `yaml:"kind"`
	Retry          *longRetry            `yaml:"retry,omitempty"`
	CircuitBreaker *CircuitBreakerPolicy `yaml:"circuitBreaker,omitempty"`
	Split          *longSplit            `yaml:"split,omitempty"`
	Sidecar        *SidecarPolicy        `yaml:"sidecar,omitempty"`
}

type longRetry struct {
	Service       string   `yaml:"service"`
	Attempts      int      `yaml:"attempts"`
	RetryOn       []string `yaml:"retryOn,flow"`
	PerTryTimeout Duration `yaml:"perTryTimeout,omitempty"`
	BackoffBase   Duration `yaml:"backoffBase,omitempty"`
	PreferNewHost bool     `yaml:"preferNewHost"`
}

type longSplit struct {
	Service string       `yaml:"service"`
	Targets []longTarget `yaml:"targets"`
}

type longTarget struct {
	Version string `yaml:"version"`
	Weight  num    `yaml:"weight"`
}

type longLoad struct {
	Duration    Duration `yaml:"duration"`
	RPS         num      `yaml:"rps"`
	Connections int      `yaml:"connections"`
}

type longCondition struct {
	Condition string   `yaml:"condition"`
	Value     string   `yaml:"value"`
	Tolerance *float64 `yaml:"tolerance,omitempty"`
}

// Marshal writes s in the long form (what `meshgym explain` prints).
// Loading the result gives s back (Source, Notes and condition positions
// aside).
func Marshal(s *Scenario) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("marshal scenario: nil scenario")
	}
	doc := longDoc{
		APIVersion:  s.APIVersion,
		Kind:        s.Kind,
		Name:        s.Name,
		Description: s.Description,
		Seed:        s.Seed,
		Topology:    longTopology{Entry: s.Topology.Entry},
		Load:        longLoad{Duration: s.Load.Duration, RPS: num(s.Load.RPS), Connections: s.Load.Connections},
	}
	if doc.APIVersion == "" {
		doc.APIVersion = APIVersion
	}
	if doc.Kind == "" {
		doc.Kind = "Scenario"
	}
	for _, svc := range s.Topology.Services {
		ls := longService{Name: svc.Name, Upstreams: svc.Upstreams, Sidecar: svc.Sidecar}
		for _, v := range svc.Versions {
			lv := longVersion{Name: v.Name, Instances: v.Instances, Weight: num(v.Weight), ErrorRate: num(v.ErrorRate), ErrorCode: v.ErrorCode}
			if v.Latency != (Latency{}) {
				l := v.Latency
				lv.Latency = &l
			}
			ls.Versions = append(ls.Versions, lv)
		}
		doc.Topology.Services = append(doc.Topology.Services, ls)
	}
	p := s.Pattern
	doc.Pattern = longPattern{Kind: p.Kind, CircuitBreaker: p.CircuitBreaker, Sidecar: p.Sidecar}
	if r := p.Retry; r != nil {
		doc.Pattern.Retry = &longRetry{Service: r.Service, Attempts: r.Attempts, RetryOn: r.RetryOn, PerTryTimeout: r.PerTryTimeout, BackoffBase: r.BackoffBase, PreferNewHost: r.PreferNewHost}
		if doc.Pattern.Retry.RetryOn == nil {
			doc.Pattern.Retry.RetryOn = []string{}
		}
	}
	if sp := p.Split; sp != nil {
		ls := &longSplit{Service: sp.Service, Targets: []longTarget{}}
		for _, t := range sp.Targets {
			ls.Targets = append(ls.Targets, longTarget{Version: t.Version, Weight: num(t.Weight)})
		}
		doc.Pattern.Split = ls
	}
	for _, c := range s.Conditions {
		doc.Conditions = append(doc.Conditions, longCondition{Condition: c.Selector(), Value: c.ValueString(), Tolerance: c.Tolerance})
	}
	out, err := yaml.MarshalWithOptions(doc, yaml.Indent(2), yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("marshal scenario %s: %w", s.Name, err)
	}
	return out, nil
}
