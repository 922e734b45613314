package plugins

import (
	"encoding/json"
	"fmt"
	"time"

	pluginv1 "meshgym/plugins/proto/v1"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// Conversions between the Go contract (mesh.go) and the wire messages of
// plugins/proto/v1. Topology and Pattern travel as encoding/json bytes (see
// plugin.proto); everything else is a typed message.

func marshalTopology(t scenarios.Topology) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode topology: %w", err)
	}
	return b, nil
}

func marshalPattern(p scenarios.Pattern) ([]byte, error) {
	if p.IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode pattern: %w", err)
	}
	return b, nil
}

func unmarshalTopology(b []byte) (scenarios.Topology, error) {
	var t scenarios.Topology
	if len(b) == 0 {
		return t, nil
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, Errorf(CodeInvalid, "decode topology_json: %v", err)
	}
	return t, nil
}

func unmarshalPattern(b []byte) (scenarios.Pattern, error) {
	var p scenarios.Pattern
	if len(b) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, Errorf(CodeInvalid, "decode pattern_json: %v", err)
	}
	return p, nil
}

func infoToWire(i Info) *pluginv1.Info {
	w := &pluginv1.Info{
		Name: i.Name, Version: i.Version, Patterns: i.Patterns, Platforms: i.Platforms,
		Formats: i.Formats, Notes: i.Notes,
	}
	for _, p := range i.Profiles {
		w.Profiles = append(w.Profiles, &pluginv1.ProfileInfo{
			Name: p.Name, Release: p.Release, Versions: p.Versions, Source: p.Source, Summary: p.Summary,
		})
	}
	return w
}

func infoFromWire(w *pluginv1.Info) Info {
	i := Info{
		Name: w.GetName(), Version: w.GetVersion(), Patterns: w.GetPatterns(), Platforms: w.GetPlatforms(),
		Formats: w.GetFormats(), Notes: w.GetNotes(),
	}
	for _, p := range w.GetProfiles() {
		i.Profiles = append(i.Profiles, ProfileInfo{
			Name: p.GetName(), Release: p.GetRelease(), Versions: p.GetVersions(), Source: p.GetSource(), Summary: p.GetSummary(),
		})
	}
	return i
}

func endpointsToWire(m map[string][]sandbox.Endpoint) map[string]*pluginv1.Endpoints {
	if m == nil {
		return nil
	}
	w := make(map[string]*pluginv1.Endpoints, len(m))
	for svc, eps := range m {
		list := &pluginv1.Endpoints{}
		for _, e := range eps {
			list.Endpoints = append(list.Endpoints, &pluginv1.Endpoint{Name: e.Name, Address: e.Address})
		}
		w[svc] = list
	}
	return w
}

func endpointsFromWire(w map[string]*pluginv1.Endpoints) map[string][]sandbox.Endpoint {
	if len(w) == 0 {
		return nil
	}
	m := make(map[string][]sandbox.Endpoint, len(w))
	for svc, list := range w {
		var eps []sandbox.Endpoint
		for _, e := range list.GetEndpoints() {
			eps = append(eps, sandbox.Endpoint{Name: e.GetName(), Address: e.GetAddress()})
		}
		m[svc] = eps
	}
	return m
}

func componentsToWire(cs []sandbox.Component) []*pluginv1.Component {
	var w []*pluginv1.Component
	for _, c := range cs {
		w = append(w, &pluginv1.Component{
			Name: c.Name, Instance: c.Instance, Kind: string(c.Kind), Service: c.Service, Version: c.Version,
			Pid: c.PID, AdminUrl: c.AdminURL, MetricsUrl: c.MetricsURL, Log: c.Log,
		})
	}
	return w
}

func componentsFromWire(w []*pluginv1.Component) []sandbox.Component {
	var cs []sandbox.Component
	for _, c := range w {
		cs = append(cs, sandbox.Component{
			Name: c.GetName(), Instance: c.GetInstance(), Kind: sandbox.ComponentKind(c.GetKind()),
			Service: c.GetService(), Version: c.GetVersion(), PID: c.GetPid(),
			AdminURL: c.GetAdminUrl(), MetricsURL: c.GetMetricsUrl(), Log: c.GetLog(),
		})
	}
	return cs
}

// scenarioToWire encodes the scenario types a request carries as JSON.
func scenarioToWire(t scenarios.Topology, p scenarios.Pattern) (topo, pat []byte, err error) {
	if topo, err = marshalTopology(t); err != nil {
		return nil, nil, err
	}
	pat, err = marshalPattern(p)
	return topo, pat, err
}

// scenarioFromWire decodes the scenario types a request carries.
func scenarioFromWire(topoJSON, patJSON []byte) (t scenarios.Topology, p scenarios.Pattern, err error) {
	if t, err = unmarshalTopology(topoJSON); err != nil {
		return t, p, err
	}
	p, err = unmarshalPattern(patJSON)
	return t, p, err
}

func renderRequestToWire(r RenderRequest) (*pluginv1.RenderRequest, error) {
	topo, pat, err := scenarioToWire(r.Topology, r.Pattern)
	if err != nil {
		return nil, err
	}
	return &pluginv1.RenderRequest{
		Profile: r.Profile, Format: r.Format, TopologyJson: topo, PatternJson: pat,
		Endpoints: endpointsToWire(r.Endpoints),
	}, nil
}

func renderRequestFromWire(w *pluginv1.RenderRequest) (RenderRequest, error) {
	topo, pat, err := scenarioFromWire(w.GetTopologyJson(), w.GetPatternJson())
	if err != nil {
		return RenderRequest{}, err
	}
	return RenderRequest{
		Profile: w.GetProfile(), Format: w.GetFormat(), Topology: topo, Pattern: pat,
		Endpoints: endpointsFromWire(w.GetEndpoints()),
	}, nil
}

func renderedToWire(r Rendered) *pluginv1.Rendered {
	w := &pluginv1.Rendered{Notes: r.Notes}
	for _, d := range r.Documents {
		w.Documents = append(w.Documents, &pluginv1.Document{Name: d.Name, Format: d.Format, Content: d.Content})
	}
	for _, k := range r.Knobs {
		w.Knobs = append(w.Knobs, &pluginv1.Knob{Path: k.Path, Value: k.Value, Source: k.Source})
	}
	return w
}

func renderedFromWire(w *pluginv1.Rendered) Rendered {
	r := Rendered{Notes: w.GetNotes()}
	for _, d := range w.GetDocuments() {
		r.Documents = append(r.Documents, Document{Name: d.GetName(), Format: d.GetFormat(), Content: d.GetContent()})
	}
	for _, k := range w.GetKnobs() {
		r.Knobs = append(r.Knobs, Knob{Path: k.GetPath(), Value: k.GetValue(), Source: k.GetSource()})
	}
	return r
}

func applyRequestToWire(r ApplyRequest) (*pluginv1.ApplyRequest, error) {
	topo, pat, err := scenarioToWire(r.Topology, r.Pattern)
	if err != nil {
		return nil, err
	}
	return &pluginv1.ApplyRequest{
		Profile: r.Profile, Platform: r.Platform, TopologyJson: topo, PatternJson: pat,
		Endpoints: endpointsToWire(r.Endpoints), Components: componentsToWire(r.Components),
		Cluster: clusterToWire(r.Cluster),
	}, nil
}

func applyRequestFromWire(w *pluginv1.ApplyRequest) (ApplyRequest, error) {
	topo, pat, err := scenarioFromWire(w.GetTopologyJson(), w.GetPatternJson())
	if err != nil {
		return ApplyRequest{}, err
	}
	return ApplyRequest{
		Profile: w.GetProfile(), Platform: w.GetPlatform(), Topology: topo, Pattern: pat,
		Endpoints: endpointsFromWire(w.GetEndpoints()), Components: componentsFromWire(w.GetComponents()),
		Cluster: clusterFromWire(w.GetCluster()),
	}, nil
}

func mappingsToWire(ms []MetricMapping) *pluginv1.MetricMappings {
	w := &pluginv1.MetricMappings{}
	for _, m := range ms {
		w.Mappings = append(w.Mappings, &pluginv1.MetricMapping{Mesh: m.Mesh, Meshgym: m.Meshgym, Labels: m.Labels, Where: m.Where})
	}
	return w
}

func mappingsFromWire(w *pluginv1.MetricMappings) []MetricMapping {
	var ms []MetricMapping
	for _, m := range w.GetMappings() {
		ms = append(ms, MetricMapping{Mesh: m.GetMesh(), Meshgym: m.GetMeshgym(), Labels: m.GetLabels(), Where: m.GetWhere()})
	}
	return ms
}

func eventToWire(e PolicyEvent) *pluginv1.PolicyEvent {
	w := &pluginv1.PolicyEvent{
		Component: e.Component, Kind: e.Kind, Cluster: e.Cluster, Endpoint: e.Endpoint,
		Attempt: int64(e.Attempt), StatusCode: int32(e.StatusCode), BackoffNs: int64(e.Backoff),
		Detail: e.Detail, Count: e.Count,
	}
	if !e.At.IsZero() {
		w.AtUnixNano = e.At.UnixNano()
	}
	return w
}

func eventFromWire(w *pluginv1.PolicyEvent) PolicyEvent {
	e := PolicyEvent{
		Component: w.GetComponent(), Kind: w.GetKind(), Cluster: w.GetCluster(), Endpoint: w.GetEndpoint(),
		Attempt: int(w.GetAttempt()), StatusCode: int(w.GetStatusCode()), Backoff: time.Duration(w.GetBackoffNs()),
		Detail: w.GetDetail(), Count: w.GetCount(),
	}
	if n := w.GetAtUnixNano(); n != 0 {
		e.At = time.Unix(0, n)
	}
	return e
}

func clusterToWire(c *sandbox.Cluster) *pluginv1.Cluster {
	if c == nil {
		return nil
	}
	return &pluginv1.Cluster{Name: c.Name, Kubeconfig: c.Kubeconfig, Context: c.Context, Namespace: c.Namespace, Mesh: c.Mesh}
}

func clusterFromWire(w *pluginv1.Cluster) *sandbox.Cluster {
	if w == nil {
		return nil
	}
	return &sandbox.Cluster{Name: w.GetName(), Kubeconfig: w.GetKubeconfig(), Context: w.GetContext(), Namespace: w.GetNamespace(), Mesh: w.GetMesh()}
}
