package kubemesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/sandbox"
)

// Events implements plugins.Mesh: every Deps.EventInterval (1 s) it reads
// each sidecar's proxy metrics (the ScrapeTargets URL) and sends, per
// Spec.Events counter and upstream, the increase since the previous read
// as one PolicyEvent{Kind, Count, Cluster}. The first read of a proxy is
// its baseline; a counter that went down (the proxy restarted) starts a
// new baseline. A proxy that cannot be read is skipped until it can. It
// returns nil when ctx ends, or send's error.
func (p *Plugin) Events(ctx context.Context, req plugins.EventsRequest, send func(plugins.PolicyEvent) error) error {
	if len(p.spec.Events) == 0 {
		<-ctx.Done()
		return nil
	}
	type target struct {
		c   sandbox.Component
		url string
	}
	var ts []target
	for _, c := range req.Components {
		if c.Kind == sandbox.KindSidecar && c.AdminURL != "" {
			ts = append(ts, target{c, sandbox.PodProxyURL(c.AdminURL, p.spec.Proxy.Port, p.spec.Proxy.Path)})
		}
	}
	last := make([]map[counterKey]float64, len(ts))
	for {
		var mu sync.Mutex
		var evs []plugins.PolicyEvent
		var wg sync.WaitGroup
		for i, t := range ts {
			wg.Go(func() {
				cur, err := p.readCounters(ctx, t.url)
				if err != nil {
					return
				}
				now := p.deps.Now()
				var out []plugins.PolicyEvent
				if prev := last[i]; prev != nil {
					for k, v := range cur {
						if d := v - prev[k]; d >= 1 && v >= prev[k] {
							out = append(out, plugins.PolicyEvent{At: now, Component: t.c.Name, Kind: k.kind, Cluster: k.cluster, Count: int64(d)})
						}
					}
				}
				last[i] = cur
				mu.Lock()
				evs = append(evs, out...)
				mu.Unlock()
			})
		}
		wg.Wait()
		sortEvents(evs)
		for _, ev := range evs {
			if err := send(ev); err != nil {
				return err
			}
		}
		if err := p.deps.Sleep(ctx, p.deps.EventInterval); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// counterKey is one event counter summed per upstream.
type counterKey struct{ kind, cluster string }

// readCounters reads url and sums Spec.Events counters per kind and
// upstream service.
func (p *Plugin) readCounters(ctx context.Context, url string) (map[counterKey]float64, error) {
	hc := p.deps.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	samples, err := metrics.Parse(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	return p.counters(samples), nil
}

// counters sums the Spec.Events counters of samples per kind and upstream.
func (p *Plugin) counters(samples []metrics.Sample) map[counterKey]float64 {
	out := map[counterKey]float64{}
	for _, s := range samples {
		for _, ec := range p.spec.Events {
			if s.Name == ec.Metric {
				out[counterKey{ec.Kind, upstreamService(s.Labels[ec.ClusterLabel])}] += s.Value
			}
		}
	}
	return out
}

// upstreamService reduces a proxy's upstream name to the scenario service:
// Istio's "outbound|9090||currency.meshgym.svc.cluster.local" and
// Consul's "currency.default.dc1.internal.<trust domain>.consul" to
// "currency", Linkerd's parent_name "currency" as is. Kubernetes names
// use '-' where the scenario has '_' (meshconfig's kname), so the name is
// the Kubernetes one.
func upstreamService(s string) string {
	if parts := strings.Split(s, "|"); len(parts) == 4 {
		s = parts[3]
	}
	host, _, _ := strings.Cut(s, ".")
	return host
}

// sortEvents orders events by component, kind and cluster so a poll's
// events go out in a stable order.
func sortEvents(evs []plugins.PolicyEvent) {
	less := func(a, b plugins.PolicyEvent) bool {
		if a.Component != b.Component {
			return a.Component < b.Component
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Cluster < b.Cluster
	}
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && less(evs[j], evs[j-1]); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}
