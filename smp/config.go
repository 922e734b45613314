package smp

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"meshgym/internal/yamlnode"
)

// TestConfig is an SMP performance test configuration: the
// PerformanceTestConfig message of the Service Mesh Performance spec
// (github.com/service-mesh-performance/service-mesh-performance,
// protos/service_mesh_performance.proto), as Meshery's `mesheryctl perf
// apply -f FILE` reads it. That file wraps the config in `test:` beside the
// mesh under test (`mesh:`), Meshery's PerformanceTestConfigFile
// {test, mesh} (meshery/meshery models/performance_profiles.go); Load
// accepts the wrapped and the bare form:
//
//	test:                           # optional wrapper
//	  name: quick check
//	  smp_version: v0.0.1
//	  duration: 30s                 # "30s", "1m", or a number of seconds
//	  clients:
//	    - load_generator: fortio    # only fortio
//	      protocol: http            # only http
//	      connections: 2
//	      rps: 50                   # 0 = as fast as possible
//	      endpoint_urls: [http://127.0.0.1:8200/]
//	mesh: istio                     # optional, recorded in the result
type TestConfig struct {
	// File is the path Load read.
	File string `json:"-"`
	// SMPVersion is smp_version (older spec files: smps_version).
	SMPVersion string `json:"smp_version,omitempty"`
	// ID and Name identify the test; Name defaults to the file's base name.
	ID     string            `json:"id,omitempty"`
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Clients are the load generators ("single or distributed load
	// generators" in the spec). Run runs them at the same time.
	Clients []Client `json:"clients"`
	// Duration is how long each endpoint is under load. The spec has a
	// string; Load reads Go durations ("30s", "1m", "1h30m") and, as a
	// meshgym extension, a bare number of seconds. Default 30 s, as
	// mesheryctl perf apply uses.
	Duration time.Duration `json:"-"`
	// DurationText is duration as written ("" when absent).
	DurationText string `json:"duration,omitempty"`
	// Mesh and MeshVersion are the wrapped form's mesh: (a name, or a
	// mapping with type or name, and version); "" when absent.
	Mesh        string `json:"mesh,omitempty"`
	MeshVersion string `json:"mesh_version,omitempty"`
	// Wrapped is true when the file used the test: wrapper.
	Wrapped bool `json:"-"`
	// Notes say which defaults Load applied, one line each.
	Notes []string `json:"-"`
}

// Client is one load generator of a TestConfig
// (PerformanceTestConfig.Client in the SMP spec).
type Client struct {
	// Internal says whether the client runs inside the mesh; recorded
	// only (meshgym's load generator always runs on the host).
	Internal bool `json:"internal,omitempty"`
	// LoadGenerator is always "fortio": meshgym links fortio as its load
	// generator; wrk2 and nighthawk are refused by Load.
	LoadGenerator string `json:"load_generator"`
	// Protocol is always "http" (tcp, udp and grpc are refused).
	Protocol string `json:"protocol"`
	// Connections is the number of concurrent connections (≥ 1; default
	// 1, mesheryctl's default concurrent requests).
	Connections int `json:"connections"`
	// RPS is the total planned rate of this client in requests per second
	// (≥ 0; 0 = as fast as possible, as in fortio).
	RPS float64 `json:"rps"`
	// EndpointURLs are the http(s) URLs to load, one after the other
	// (endpoint_urls; the spec's proto field is endpoint_url).
	EndpointURLs []string `json:"endpoint_urls"`
}

// DefaultDuration is the test duration when the file gives none
// (mesheryctl perf apply's default, "30s").
const DefaultDuration = 30 * time.Second

// MaxDuration bounds duration (the run command's bound, 168 h).
const MaxDuration = 168 * time.Hour

// maxFileSize bounds an SMP file (they are a few hundred bytes).
const maxFileSize = 1 << 20

// scenarioKeys are top-level keys of meshgym scenario files (long form and
// the book's shorthand); a file with any of them is not an SMP test.
var scenarioKeys = []string{"apiVersion", "kind", "topology", "pattern", "baseline", "conditions", "load",
	"deployment", "performance_test", "performance_profile"}

// IsTestConfig reports whether path is an SMP performance test file rather
// than a meshgym scenario: a YAML or JSON mapping with a top-level test: or
// clients: key and none of the scenario keys (apiVersion, kind, topology,
// pattern, baseline, conditions, load, deployment, performance_test,
// performance_profile). It does not validate the file; Load does.
func IsTestConfig(path string) bool {
	data, err := readFile(path)
	if err != nil {
		return false
	}
	root := parse(&problems{file: path}, data)
	if root == nil || root.Kind != yamlnode.Map {
		return false
	}
	for _, k := range scenarioKeys {
		if kk, _ := root.Lookup(k); kk != nil {
			return false
		}
	}
	kt, _ := root.Lookup("test")
	kc, _ := root.Lookup("clients")
	return kt != nil || kc != nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("is not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("is larger than %d bytes; an SMP test file is a few lines", maxFileSize)
	}
	return data, nil
}

// Load reads an SMP performance test file (YAML or JSON, wrapped in test:
// or not) and checks it. Every problem is reported at once as an Errors,
// each naming file:line:column and the field: a missing or empty
// endpoint_urls, a URL that is not http(s)://host…, rps < 0, connections
// < 1, a duration that is not a Go duration or a number of seconds (or is
// ≤ 0 or > 168h), a load_generator other than fortio, a protocol other
// than http, headers, cookies, body or content_type (meshgym's load
// generator sends plain GET requests), and unknown keys.
func Load(path string) (*TestConfig, error) {
	p := &problems{file: path}
	data, err := readFile(path)
	if err != nil {
		msg := err.Error()
		if pe, ok := err.(*os.PathError); ok {
			msg = pe.Err.Error()
		}
		p.add(pos{}, "", "check the path", "cannot read the file: %s", msg)
		return nil, p.err()
	}
	return decode(p, data)
}

// LoadBytes is Load for data already read; name is used in errors.
func LoadBytes(name string, data []byte) (*TestConfig, error) {
	return decode(&problems{file: name}, data)
}

type decoder struct {
	p   *problems
	cfg *TestConfig
}

func decode(p *problems, data []byte) (*TestConfig, error) {
	root := parse(p, data)
	if len(p.list) > 0 {
		return nil, p.err()
	}
	cfg := &TestConfig{File: p.file}
	d := &decoder{p: p, cfg: cfg}
	if root == nil || root.Kind != yamlnode.Map {
		what := "an empty file"
		if root != nil {
			what = describe(root)
		}
		at := pos{}
		if root != nil {
			at = root.At
		}
		p.add(at, "", "an SMP test file is a mapping with test: {clients: [...], duration: 30s}", "expected a mapping, found %s", what)
		return nil, p.err()
	}
	body, prefix := root, ""
	if k, v := root.Lookup("test"); k != nil {
		cfg.Wrapped = true
		d.keys(root, "", "test, mesh", "test", "mesh")
		if v.Kind != yamlnode.Map {
			p.add(v.At, "test", "test: holds name, duration and clients", "expected a mapping, found %s", describe(v))
			return nil, p.err()
		}
		body, prefix = v, "test."
	} else {
		d.keys(root, "", "", configKeys...)
	}
	if k, v := root.Lookup("mesh"); k != nil {
		d.mesh(v)
	}
	if cfg.Wrapped {
		d.keys(body, "test", "", configKeys[:len(configKeys)-1]...) // no mesh inside test:
	}
	d.config(body, prefix)
	if err := p.err(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		base := path2name(p.file)
		cfg.Name = base
	}
	return cfg, nil
}

// configKeys are the keys of PerformanceTestConfig (plus mesh, last).
var configKeys = []string{"smp_version", "smps_version", "id", "name", "labels", "clients", "duration", "mesh"}

var clientKeys = []string{"internal", "load_generator", "protocol", "connections", "rps", "headers", "cookies",
	"body", "content_type", "endpoint_urls", "endpoint_url"}

// keys reports keys of m that are not allowed.
func (d *decoder) keys(m *node, field, shown string, allowed ...string) {
	if shown == "" {
		shown = strings.Join(allowed, ", ")
	}
	for _, k := range m.Keys {
		ok := false
		for _, a := range allowed {
			ok = ok || k.Text == a
		}
		if !ok {
			d.p.add(k.At, join(field, k.Text), "known keys here: "+shown, "unknown key %q", clip(k.Text))
		}
	}
}

func join(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

func (d *decoder) str(n *node, field string) (string, bool) {
	if n.Kind != yamlnode.Scalar {
		d.p.add(n.At, field, "write a plain value", "expected text, found %s", describe(n))
		return "", false
	}
	return n.Text, true
}

func (d *decoder) strMap(n *node, field string) map[string]string {
	if n.Kind == yamlnode.Null {
		return nil
	}
	if n.Kind != yamlnode.Map {
		d.p.add(n.At, field, "write key: value pairs", "expected a mapping, found %s", describe(n))
		return nil
	}
	out := map[string]string{}
	for i, k := range n.Keys {
		if v, ok := d.str(n.Vals[i], field+"."+k.Text); ok {
			out[k.Text] = v
		}
	}
	return out
}

func (d *decoder) mesh(n *node) {
	switch n.Kind {
	case yamlnode.Null:
	case yamlnode.Scalar:
		d.cfg.Mesh = n.Text
	case yamlnode.Map:
		for _, key := range []string{"name", "type"} {
			if k, v := n.Lookup(key); k != nil && v.Kind == yamlnode.Scalar && d.cfg.Mesh == "" {
				d.cfg.Mesh = v.Text
			}
		}
		if k, v := n.Lookup("version"); k != nil && v.Kind == yamlnode.Scalar {
			d.cfg.MeshVersion = v.Text
		}
	default:
		d.p.add(n.At, "mesh", "name the mesh: mesh: istio", "expected a name or a mapping, found %s", describe(n))
	}
}

func (d *decoder) config(m *node, prefix string) {
	cfg := d.cfg
	for _, key := range []string{"smp_version", "smps_version"} {
		if k, v := m.Lookup(key); k != nil {
			cfg.SMPVersion, _ = d.str(v, prefix+key)
		}
	}
	if k, v := m.Lookup("id"); k != nil {
		cfg.ID, _ = d.str(v, prefix+"id")
	}
	if k, v := m.Lookup("name"); k != nil {
		cfg.Name, _ = d.str(v, prefix+"name")
	}
	if k, v := m.Lookup("labels"); k != nil {
		cfg.Labels = d.strMap(v, prefix+"labels")
	}
	if k, v := m.Lookup("duration"); k != nil {
		d.duration(v, prefix+"duration")
	} else {
		cfg.Duration = DefaultDuration
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("duration: %s (not given; mesheryctl's default)", DefaultDuration))
	}
	k, v := m.Lookup("clients")
	switch {
	case k == nil:
		d.p.add(m.At, strings.TrimSuffix(prefix, "."), "add clients: [{endpoint_urls: [http://127.0.0.1:8200/], rps: 50, connections: 2}]", "no clients: the test has no load generator")
		return
	case v.Kind != yamlnode.Seq:
		d.p.add(v.At, prefix+"clients", "clients is a list: clients: [{endpoint_urls: [...]}]", "expected a list of clients, found %s", describe(v))
		return
	case len(v.Items) == 0:
		d.p.add(v.At, prefix+"clients", "add one: clients: [{endpoint_urls: [http://127.0.0.1:8200/], rps: 50, connections: 2}]", "needs at least one client")
		return
	}
	for i, it := range v.Items {
		d.client(it, fmt.Sprintf("%sclients[%d]", prefix, i))
	}
}

func (d *decoder) duration(n *node, field string) {
	const hint = `write a Go duration such as "30s", "1m" or "1h30m", or a number of seconds`
	if n.Kind != yamlnode.Scalar {
		d.p.add(n.At, field, hint, "expected a duration, found %s", describe(n))
		return
	}
	text := strings.TrimSpace(n.Text)
	var dur time.Duration
	if secs, err := strconv.ParseFloat(text, 64); err == nil && !math.IsNaN(secs) && !math.IsInf(secs, 0) {
		dur = time.Duration(secs * float64(time.Second))
	} else if x, err := time.ParseDuration(text); err == nil {
		dur = x
	} else {
		d.p.add(n.At, field, hint, "cannot read %q as a duration", clip(text))
		return
	}
	if dur <= 0 || dur > MaxDuration {
		d.p.add(n.At, field, hint, "must be more than 0 and at most %s (got %s)", MaxDuration, clip(text))
		return
	}
	d.cfg.Duration, d.cfg.DurationText = dur, text
}

func (d *decoder) client(n *node, field string) {
	if n.Kind != yamlnode.Map {
		d.p.add(n.At, field, "each client is a mapping: {endpoint_urls: [...], rps: 50}", "expected a mapping, found %s", describe(n))
		return
	}
	d.keys(n, field, "", clientKeys...)
	c := Client{LoadGenerator: "fortio", Protocol: "http", Connections: 1}
	if k, v := n.Lookup("internal"); k != nil {
		if v.Kind != yamlnode.Scalar || v.Tag != "bool" {
			d.p.add(v.At, field+".internal", "true or false", "expected a boolean, found %s", describe(v))
		} else {
			c.Internal = v.Text == "true" || v.Text == "True" || v.Text == "TRUE"
		}
	}
	if k, v := n.Lookup("load_generator"); k != nil {
		if s, ok := d.str(v, field+".load_generator"); ok && s != "" && !strings.EqualFold(s, "fortio") {
			d.p.add(v.At, field+".load_generator", "use load_generator: fortio (meshgym runs fortio as a library; wrk2 and nighthawk are not built in)",
				"load generator %q is not supported: only fortio is", clip(s))
		}
	}
	if k, v := n.Lookup("protocol"); k != nil {
		if s, ok := d.str(v, field+".protocol"); ok && s != "" && !strings.EqualFold(s, "http") && s != "0" {
			d.p.add(v.At, field+".protocol", "use protocol: http (the SMP enum's tcp, udp and grpc are not supported)",
				"protocol %q is not supported: only http is", clip(s))
		}
	}
	if k, v := n.Lookup("connections"); k != nil {
		x, ok := d.number(v, field+".connections")
		switch {
		case !ok:
		case x < 1 || x != math.Trunc(x) || x > 10000:
			d.p.add(v.At, field+".connections", "use a whole number from 1 to 10000", "must be a whole number ≥ 1 (got %s)", clip(v.Text))
		default:
			c.Connections = int(x)
		}
	}
	if k, v := n.Lookup("rps"); k != nil {
		x, ok := d.number(v, field+".rps")
		switch {
		case !ok:
		case x < 0 || x > 1e6:
			d.p.add(v.At, field+".rps", "use 0 for as fast as possible", "must be from 0 to 1000000 requests per second (got %s)", clip(v.Text))
		default:
			c.RPS = x
		}
	}
	for _, key := range []string{"headers", "cookies", "body", "content_type"} {
		k, v := n.Lookup(key)
		if k == nil || v.Kind == yamlnode.Null || (v.Kind == yamlnode.Scalar && v.Text == "") || (v.Kind == yamlnode.Map && len(v.Keys) == 0) {
			continue
		}
		d.p.add(k.At, field+"."+key, "remove it, or run this test with Meshery or fortio directly",
			"%s is not supported: meshgym's load generator sends plain GET requests", key)
	}
	c.EndpointURLs = d.urls(n, field)
	d.cfg.Clients = append(d.cfg.Clients, c)
}

func (d *decoder) number(n *node, field string) (float64, bool) {
	if n.Kind != yamlnode.Scalar {
		d.p.add(n.At, field, "write a number", "expected a number, found %s", describe(n))
		return 0, false
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(n.Text), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		d.p.add(n.At, field, "write a number", "expected a number, found %s", describe(n))
		return 0, false
	}
	return x, true
}

func (d *decoder) urls(n *node, field string) []string {
	const hint = "list the URLs to load: endpoint_urls: [http://127.0.0.1:8200/]"
	var key string
	var k, v *node
	for _, name := range []string{"endpoint_urls", "endpoint_url"} {
		if kk, vv := n.Lookup(name); kk != nil {
			key, k, v = name, kk, vv
			break
		}
	}
	if k == nil {
		d.p.add(n.At, field+".endpoint_urls", hint, "missing: the client has no endpoint to load")
		return nil
	}
	field += "." + key
	var items []*node
	switch v.Kind {
	case yamlnode.Scalar:
		items = []*node{v}
	case yamlnode.Seq:
		items = v.Items
	}
	switch {
	case v.Kind == yamlnode.Seq && len(items) == 0:
		d.p.add(v.At, field, hint, "needs at least one endpoint URL")
		return nil
	case len(items) == 0:
		d.p.add(v.At, field, hint, "expected a list of URLs, found %s", describe(v))
		return nil
	}
	var out []string
	for i, it := range items {
		f := field
		if v.Kind == yamlnode.Seq {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		s, ok := d.str(it, f)
		if !ok {
			continue
		}
		if msg := badURL(s); msg != "" {
			d.p.add(it.At, f, "write a full URL such as http://127.0.0.1:8200/", "%s", msg)
			continue
		}
		out = append(out, s)
	}
	return out
}

// badURL says what is wrong with an endpoint URL; "" when it is usable.
func badURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "empty URL"
	case err != nil:
		return fmt.Sprintf("bad URL %q: %s", clip(s), oneLine(strings.TrimPrefix(err.Error(), "parse "+strconv.Quote(s)+": ")))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("bad URL %q: the scheme must be http or https", clip(s))
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("bad URL %q: no host", clip(s))
	}
	return ""
}

func path2name(p string) string {
	base := p
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	for _, ext := range []string{".yaml", ".yml", ".json"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// Overrides replace a test's load settings for every client, as the run
// command's --duration, --rps and --connections do. A nil field keeps the
// file's value.
type Overrides struct {
	Duration    *time.Duration // per endpoint; 0 < d ≤ MaxDuration
	RPS         *float64       // requests per second per client; 0 = as fast as possible
	Connections *int           // per client; ≥ 1
}

// Override applies o to cfg (every client) and returns one note per
// setting it changed ("rps: 50 for every client (was 10, 20)"). It
// returns an error, and changes nothing, when a value is out of the bounds
// Load enforces.
func (cfg *TestConfig) Override(o Overrides) ([]string, error) {
	switch {
	case o.Duration != nil && (*o.Duration <= 0 || *o.Duration > MaxDuration):
		return nil, fmt.Errorf("duration must be more than 0 and at most %s (got %s)", MaxDuration, *o.Duration)
	case o.RPS != nil && (math.IsNaN(*o.RPS) || *o.RPS < 0 || *o.RPS > 1e6):
		return nil, fmt.Errorf("rps must be from 0 to 1000000 (got %g)", *o.RPS)
	case o.Connections != nil && (*o.Connections < 1 || *o.Connections > 10000):
		return nil, fmt.Errorf("connections must be from 1 to 10000 (got %d)", *o.Connections)
	}
	var notes []string
	if o.Duration != nil {
		notes = append(notes, fmt.Sprintf("duration: %s per endpoint (the file says %s)", *o.Duration, cfg.Duration))
		cfg.Duration, cfg.DurationText = *o.Duration, o.Duration.String()
	}
	if o.RPS != nil {
		var was []string
		for i := range cfg.Clients {
			was = append(was, strconv.FormatFloat(cfg.Clients[i].RPS, 'f', -1, 64))
			cfg.Clients[i].RPS = *o.RPS
		}
		notes = append(notes, fmt.Sprintf("rps: %s for every client (the file says %s)", strconv.FormatFloat(*o.RPS, 'f', -1, 64), strings.Join(was, ", ")))
	}
	if o.Connections != nil {
		var was []string
		for i := range cfg.Clients {
			was = append(was, strconv.Itoa(cfg.Clients[i].Connections))
			cfg.Clients[i].Connections = *o.Connections
		}
		notes = append(notes, fmt.Sprintf("connections: %d for every client (the file says %s)", *o.Connections, strings.Join(was, ", ")))
	}
	return notes, nil
}
