package dataplane

import (
	"fmt"
	"sync/atomic"
)

// LB policy names accepted in [Cluster].LBPolicy.
const (
	// LBRoundRobin is Envoy's ROUND_ROBIN (the default when LBPolicy is
	// empty): endpoints are picked in turn, shared by all requests of the
	// cluster. envoy api/envoy/config/cluster/v3/cluster.proto LbPolicy.
	LBRoundRobin = "round_robin"
	// LBRandom is Envoy's RANDOM: each pick is uniform over the endpoints.
	LBRandom = "random"
)

// LoadBalancer picks the index of the endpoint an attempt goes to. It is
// safe for concurrent use: one LoadBalancer serves every request of a
// cluster, as in Envoy, so re-picks by one request consume picks of others.
type LoadBalancer interface {
	// Pick returns an index in [0, n) where n is the endpoint count, or
	// -1 when no endpoint may be used (with outlier detection: every
	// endpoint ejected and panic mode off; see outlier.go).
	Pick() int
}

// RoundRobin is Envoy's unweighted round-robin load balancer: the k-th pick
// of the cluster (counting from 0) returns k mod n. Envoy randomises the
// starting index; meshgym starts at 0 so runs are reproducible.
// envoy source/extensions/load_balancing_policies/round_robin.
type RoundRobin struct {
	n    uint64
	next atomic.Uint64
}

// NewRoundRobin returns a round-robin balancer over n endpoints (n ≥ 1).
func NewRoundRobin(n int) *RoundRobin {
	if n < 1 {
		panic(fmt.Sprintf("dataplane: NewRoundRobin(%d): need at least one endpoint", n))
	}
	return &RoundRobin{n: uint64(n)}
}

// Pick returns the next endpoint index in turn.
func (r *RoundRobin) Pick() int {
	return int((r.next.Add(1) - 1) % r.n)
}

// Random is Envoy's RANDOM load balancer: random() % n for each pick.
// envoy source/extensions/load_balancing_policies/random.
type Random struct {
	n    uint64
	rand func() uint64
}

// NewRandom returns a random balancer over n endpoints (n ≥ 1) drawing from
// rnd, which must be safe for concurrent use when the balancer is shared.
func NewRandom(n int, rnd func() uint64) *Random {
	if n < 1 {
		panic(fmt.Sprintf("dataplane: NewRandom(%d): need at least one endpoint", n))
	}
	return &Random{n: uint64(n), rand: rnd}
}

// Pick returns rand() mod n.
func (r *Random) Pick() int { return int(r.rand() % r.n) }

// NewLoadBalancer returns the balancer named by policy ("" or
// [LBRoundRobin], or [LBRandom]) over n endpoints.
func NewLoadBalancer(policy string, n int, rnd func() uint64) (LoadBalancer, error) {
	switch policy {
	case "", LBRoundRobin:
		return NewRoundRobin(n), nil
	case LBRandom:
		return NewRandom(n, rnd), nil
	default:
		return nil, fmt.Errorf("unknown lb_policy %q (want %q or %q)", policy, LBRoundRobin, LBRandom)
	}
}
