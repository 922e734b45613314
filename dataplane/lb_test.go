package dataplane

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestRoundRobinSequence(t *testing.T) {
	lb := NewRoundRobin(3)
	want := []int{0, 1, 2, 0, 1, 2, 0}
	for i, w := range want {
		if got := lb.Pick(); got != w {
			t.Fatalf("pick %d = %d, want %d", i, got, w)
		}
	}
}

func TestRandomUsesSourceModN(t *testing.T) {
	vals := []uint64{7, 4, 9, 1000001}
	i := 0
	lb := NewRandom(4, func() uint64 { v := vals[i]; i++; return v })
	for k, want := range []int{3, 0, 1, 1} {
		if got := lb.Pick(); got != want {
			t.Fatalf("pick %d = %d, want %d", k, got, want)
		}
	}
}

func TestRandomSeededIsReproducibleAndSpread(t *testing.T) {
	pick := func() []int {
		r := rand.New(rand.NewPCG(42, 42))
		lb := NewRandom(2, r.Uint64)
		out := make([]int, 1000)
		for i := range out {
			out[i] = lb.Pick()
		}
		return out
	}
	a, b := pick(), pick()
	ones := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("pick %d differs between runs with the same seed", i)
		}
		ones += a[i]
	}
	if ones < 430 || ones > 570 {
		t.Fatalf("endpoint 1 picked %d/1000 times; want about half", ones)
	}
}

func TestNewLoadBalancer(t *testing.T) {
	eps := []Endpoint{{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2"}}
	for _, tc := range []struct {
		cl   Cluster
		want string // type name, or "" = error
	}{
		{Cluster{}, "*dataplane.RoundRobin"},
		{Cluster{LBPolicy: LBRoundRobin}, "*dataplane.RoundRobin"},
		{Cluster{LBPolicy: LBRandom}, "*dataplane.Random"},
		{Cluster{LBPolicy: LBLeastRequest}, "*dataplane.LeastRequest"},
		{Cluster{LBPolicy: LBPeakEWMA}, "*dataplane.PeakEWMA"},
		{Cluster{LBPolicy: "ring_hash"}, ""},
		{Cluster{LBPolicy: LBLeastRequest, LBChoiceCount: 1}, ""},
	} {
		tc.cl.Endpoints = eps
		lb, err := NewLoadBalancer(tc.cl, newFakeClock(), func() uint64 { return 0 })
		got := fmt.Sprintf("%T", lb)
		if err != nil {
			got = ""
		}
		if got != tc.want {
			t.Errorf("NewLoadBalancer(%q, choices %d) = %s (err %v), want %q", tc.cl.LBPolicy, tc.cl.LBChoiceCount, got, err, tc.want)
		}
	}
	if _, err := NewLoadBalancer(Cluster{LBPolicy: LBRandom}, nil, nil); err == nil {
		t.Error("no endpoints: no error")
	}
}
