package dataplane

import (
	"net/http"
	"strings"
)

// Routes: exact header/cookie matches and weighted version splits, as
// Envoy's route table with weighted_clusters (Istio VirtualService http
// routes with match and weighted destinations to DestinationRule subsets).
//
// Per request: the routes are tried in order and the first whose match
// holds is taken (no route matches → all endpoints under the cluster's
// load balancer). The route's version is drawn once per request, Envoy's
// WeightedClusterEntry choice (source/common/router/config_impl.cc):
// selected = random() % total_weight, then the first target whose
// cumulative weight interval [begin, end) holds selected. The whole
// request, retries included, stays on that version: Envoy picks the
// cluster once in decodeHeaders and every retry calls chooseHost on that
// same cluster, so a retry re-picks only the host within the version.
// Within a version the cluster's lb_policy picks among its endpoints.

// compiledRoute is a validated [Route].
type compiledRoute struct {
	headers []headerMatch
	cookies []headerMatch // name, value
	targets []weightedTarget
	total   uint64
}

type headerMatch struct{ name, value string }

// weightedTarget is one version of a route with weight > 0.
type weightedTarget struct {
	version string
	weight  uint64
	lb      *versionLB
}

// versionLB balances over the endpoints of one version: inner picks among
// them, idx maps its picks to cluster endpoint indexes. With a load-aware
// policy (least_request, peak_ewma) inner is nil and load, the cluster's
// balancer, chooses among idx with the cluster's per-endpoint load. When
// the cluster has outlier detection, attachPolicies sets outlier to the
// detector's balancer over the same endpoints (ejections skipped, panic
// threshold applied to the version, as for an Envoy cluster of that
// subset).
type versionLB struct {
	inner   LoadBalancer
	load    loadPicker
	idx     []int
	outlier LoadBalancer
}

// Pick returns the cluster index of the endpoint picked in the version.
func (v *versionLB) Pick() int {
	switch {
	case v.outlier != nil:
		return v.outlier.Pick()
	case v.load != nil:
		return v.load.pickAmong(v.idx)
	}
	return v.idx[v.inner.Pick()]
}

// loadTracker returns the cluster's load-aware balancer (nil for
// round_robin and random): attempts are counted per cluster endpoint.
func (v *versionLB) loadTracker() Tracker {
	if v.load == nil {
		return nil
	}
	return v.load
}

// releasePick hands a discarded pick back to the outlier detector
// (linkerd probation; outlier.go).
func (v *versionLB) releasePick(i int) {
	if r, ok := v.outlier.(pickReleaser); ok {
		r.releasePick(i)
	}
}

// compileRoutes builds the routes of cluster key; versions share one
// balancer per version (Endpoint.Name), so round-robin turns are shared by
// all routes that send to a version. load is the cluster's load-aware
// balancer (nil for round_robin and random), which every version uses over
// its own endpoints.
func compileRoutes(key string, cl Cluster, load loadPicker, rnd func() uint64) ([]compiledRoute, []*versionLB, error) {
	if len(cl.Routes) == 0 {
		return nil, nil, nil
	}
	lbs := map[string]*versionLB{}
	var all []*versionLB
	lbOf := func(v string) (*versionLB, error) {
		if lb, ok := lbs[v]; ok {
			return lb, nil
		}
		var idx []int
		for i, ep := range cl.Endpoints {
			if ep.Name == v || (ep.Name == "" && v == key) {
				idx = append(idx, i)
			}
		}
		lb := &versionLB{idx: idx, load: load}
		if load == nil {
			var err error
			if lb.inner, err = newBalancer(specOf(cl), len(idx), nil, rnd); err != nil {
				return nil, err
			}
		}
		lbs[v] = lb
		all = append(all, lb)
		return lb, nil
	}
	out := make([]compiledRoute, 0, len(cl.Routes))
	for _, r := range cl.Routes {
		var cr compiledRoute
		if r.Match != nil {
			for k, v := range r.Match.Headers {
				cr.headers = append(cr.headers, headerMatch{http.CanonicalHeaderKey(k), v})
			}
			for k, v := range r.Match.Cookies {
				cr.cookies = append(cr.cookies, headerMatch{k, v})
			}
		}
		for _, wv := range r.Split {
			if wv.Weight <= 0 {
				continue // Istio drops weight-0 destinations (route.go)
			}
			lb, err := lbOf(wv.Version)
			if err != nil {
				return nil, nil, err
			}
			cr.targets = append(cr.targets, weightedTarget{version: wv.Version, weight: uint64(wv.Weight), lb: lb})
			cr.total += uint64(wv.Weight)
		}
		out = append(out, cr)
	}
	return out, all, nil
}

// matches reports whether r carries every header and cookie of the route
// with exactly the given value. A header sent several times is compared
// as its values joined by "," (Envoy HeaderUtility::getAllOfHeaderAsString);
// "Host" matches the request's host (:authority).
func (cr *compiledRoute) matches(r *http.Request) bool {
	for _, h := range cr.headers {
		var got string
		if h.name == "Host" {
			got = r.Host
		} else {
			vv := r.Header[h.name]
			switch len(vv) {
			case 0:
				return false
			case 1:
				got = vv[0]
			default:
				got = strings.Join(vv, ",")
			}
		}
		if got != h.value {
			return false
		}
	}
	for _, c := range cr.cookies {
		ck, err := r.Cookie(c.name)
		if err != nil || ck.Value != c.value {
			return false
		}
	}
	return true
}

// pick draws the route's version: random() % total, as Envoy's weighted
// clusters. A route with a single target draws nothing (the result is
// the same and the seeded source stays reproducible for other uses).
func (cr *compiledRoute) pick(rnd func() uint64) *weightedTarget {
	if len(cr.targets) == 1 {
		return &cr.targets[0]
	}
	sel := rnd() % cr.total
	for i := range cr.targets {
		t := &cr.targets[i]
		if sel < t.weight {
			return t
		}
		sel -= t.weight
	}
	return &cr.targets[len(cr.targets)-1] // unreachable: sel < total
}

// selectRoute returns the balancer of the request's version (nil when no
// route matches: the cluster's own balancer over all endpoints applies)
// and the version's name.
func selectRoute(routes []compiledRoute, r *http.Request, rnd func() uint64) (LoadBalancer, string) {
	for i := range routes {
		if routes[i].matches(r) {
			t := routes[i].pick(rnd)
			return t.lb, t.version
		}
	}
	return nil, ""
}
