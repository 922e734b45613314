package dataplane

import (
	"fmt"
	"net"
	"sort"
	"strconv"
)

// Validate checks c and returns the first problem as a one-line message
// (the admin API answers it with 400): every cluster needs at least one
// endpoint, every endpoint a host:port address, lb_policy must be known and
// the retry policy sane (see [RetryPolicy.Compile]); the policy blocks are
// checked by validateClusterPolicies and validateInbound
// (policy_validate.go).
func (c *Config) Validate() error {
	if c == nil {
		return fmt.Errorf("config is empty")
	}
	names := make([]string, 0, len(c.Clusters))
	for name := range c.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := validateCluster(name, c.Clusters[name]); err != nil {
			return err
		}
		if err := validateClusterPolicies(name, c.Clusters[name]); err != nil {
			return err
		}
	}
	return validateInbound(c.Inbound)
}

func validateCluster(key string, cl Cluster) error {
	if key == "" {
		return fmt.Errorf("cluster with empty name")
	}
	if cl.Name != "" && cl.Name != key {
		return fmt.Errorf("cluster %q: name %q differs from its key", key, cl.Name)
	}
	if len(cl.Endpoints) == 0 {
		return fmt.Errorf("cluster %q: endpoints is empty; give at least one {name, address}", key)
	}
	for i, ep := range cl.Endpoints {
		if ep.Address == "" {
			return fmt.Errorf("cluster %q: endpoint %d (%q) has no address", key, i, ep.Name)
		}
		host, port, err := net.SplitHostPort(ep.Address)
		if err != nil || host == "" {
			return fmt.Errorf("cluster %q: endpoint %d address %q is not host:port", key, i, ep.Address)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("cluster %q: endpoint %d address %q has a bad port", key, i, ep.Address)
		}
	}
	if err := validateLB(key, cl); err != nil {
		return err
	}
	if _, err := cl.Retry.Compile(); err != nil {
		return fmt.Errorf("cluster %q: %v", key, err)
	}
	if err := validateOutlier(key, cl.Outlier); err != nil {
		return err
	}
	return nil
}

// validateLB checks lb_policy and the fields of the load-aware balancers:
// lb_choice_count (least_request only; 0 or 2-MaxLBChoiceCount, Envoy's
// proto requires ≥ 2) and ewma (peak_ewma only; durations not negative).
func validateLB(key string, cl Cluster) error {
	switch cl.LBPolicy {
	case "", LBRoundRobin, LBRandom, LBLeastRequest, LBPeakEWMA:
	default:
		return fmt.Errorf("cluster %q: unknown lb_policy %q (want %s)", key, cl.LBPolicy, lbPolicyList)
	}
	if cl.LBChoiceCount != 0 {
		if cl.LBPolicy != LBLeastRequest {
			return fmt.Errorf("cluster %q: lb_choice_count is set but lb_policy is %q; it applies to %q only (remove it or change lb_policy)", key, cl.LBPolicy, LBLeastRequest)
		}
		if cl.LBChoiceCount < 2 || cl.LBChoiceCount > MaxLBChoiceCount {
			return fmt.Errorf("cluster %q: lb_choice_count is %d; want 0 (default %d) or 2-%d (Envoy needs at least 2 choices)", key, cl.LBChoiceCount, DefaultLBChoiceCount, MaxLBChoiceCount)
		}
	}
	if e := cl.EWMA; e != nil {
		if cl.LBPolicy != LBPeakEWMA {
			return fmt.Errorf("cluster %q: ewma is set but lb_policy is %q; it applies to %q only (remove it or change lb_policy)", key, cl.LBPolicy, LBPeakEWMA)
		}
		if e.DefaultRTT < 0 {
			return fmt.Errorf("cluster %q: ewma.default_rtt is %v; want 0 (default %v) or more", key, e.DefaultRTT, DefaultEWMARTT)
		}
		if e.Decay < 0 {
			return fmt.Errorf("cluster %q: ewma.decay is %v; want 0 (default %v) or more", key, e.Decay, DefaultEWMADecay)
		}
	}
	return nil
}
