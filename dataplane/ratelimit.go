package dataplane

import (
	"context"
	"math"
	"net/http"
	"sync/atomic"
	"time"
)

// Inbound local rate limit (Config.Inbound.RateLimit), Envoy's HTTP local
// rate limit filter (envoy.filters.http.local_ratelimit,
// configuration/http/http_filters/local_rate_limit_filter.rst) in front of
// the app: each request takes one token of a bucket holding at most Burst
// tokens, refilled continuously at RequestsPerSecond (current Envoy's
// AtomicTokenBucketImpl, a bucket that starts full; older Envoy refilled
// tokens_per_fill every fill_interval — the same bucket with fill_interval
// = 1/rate and tokens_per_fill = 1). A request finding no token is answered
// at once, without calling the app: status StatusCode (default 429), header
// x-envoy-ratelimited: true, body "local_rate_limited" (flag RL). It is
// counted in meshgym_requests_total like any response and in
// meshgym_ratelimited_total{name}.
//
// A caller retries such a 429 only when its retry_on has
// retriable-status-codes listing 429 (retriable-4xx is 409 only; Envoy's
// envoy-ratelimited token is not implemented).

// RateLimitedHeader is the header Envoy sets on rate-limited responses.
const RateLimitedHeader = "X-Envoy-Ratelimited"

const bodyRateLimited = "local_rate_limited"

// DefaultRateLimitStatus is the local rate limit filter's default status.
const DefaultRateLimitStatus = http.StatusTooManyRequests

// TokenBucket is a token bucket on the injected clock; safe for concurrent
// use. It holds a virtual "empty time" e: the tokens at time t are
// min(burst, (t − e) / interval), where interval = 1 s / rate rounded to
// the nanosecond; taking a token moves e one interval later. So a full
// bucket admits exactly burst requests at once, then one per interval.
type TokenBucket struct {
	clock    Clock
	burst    int64
	interval int64 // ns per token
	empty    atomic.Int64
}

// NewTokenBucket returns a full bucket of burst tokens (burst ≤ 0 means
// max(1, ⌊rate⌋), as RateLimit.Burst 0) refilled at rate tokens per
// second (> 0).
func NewTokenBucket(rate float64, burst int, clk Clock) *TokenBucket {
	if burst <= 0 {
		burst = int(max(1, math.Floor(rate)))
	}
	iv := int64(math.Round(float64(time.Second) / rate))
	if iv < 1 {
		iv = 1
	}
	b := &TokenBucket{clock: clk, burst: int64(burst), interval: iv}
	b.empty.Store(clk.Now().UnixNano() - b.burst*iv)
	return b
}

// Allow takes a token if there is one.
func (b *TokenBucket) Allow() bool {
	now := b.clock.Now().UnixNano()
	for {
		e := b.empty.Load()
		// A bucket full for a long time holds only burst tokens.
		ne := max(e, now-b.burst*b.interval) + b.interval
		if ne > now {
			return false
		}
		if b.empty.CompareAndSwap(e, ne) {
			return true
		}
	}
}

// Tokens is the number of whole tokens available now.
func (b *TokenBucket) Tokens() int64 {
	return min(b.burst, (b.clock.Now().UnixNano()-b.empty.Load())/b.interval)
}

// inboundRuntime is Config.Inbound compiled.
type inboundRuntime struct {
	rateLimit *RateLimit // the config it was built from (for inheritance)
	bucket    *TokenBucket
	status    int
}

// compileInbound compiles Config.Inbound; the bucket is made (or kept
// from the running config) by attachPolicies.
func compileInbound(p *InboundPolicy) *inboundRuntime {
	if p == nil || p.RateLimit == nil {
		return nil
	}
	rl := *p.RateLimit
	status := rl.StatusCode
	if status == 0 {
		status = DefaultRateLimitStatus
	}
	return &inboundRuntime{rateLimit: &rl, status: status}
}

var trueValue = []string{"true"}

// rateLimited applies the inbound rate limit: 0 when the request may go
// on, else the status of the local reply it wrote.
func (f *forwarder) rateLimited(w http.ResponseWriter) int {
	rc := f.cfg.Load()
	if rc == nil || rc.inbound == nil || rc.inbound.bucket.Allow() {
		return 0
	}
	in := rc.inbound
	w.Header()[RateLimitedHeader] = trueValue
	localReply(w, in.status, bodyRateLimited)
	f.tel.pol.rateLimited.Add(context.Background(), 1, f.tel.pol.rateLimitedOpts...)
	return in.status
}
