package sampleapps

import (
	"hash/fnv"
	"math/rand/v2"
	"sync"
)

// errorSampler decides, request by request, whether to inject an error with
// probability rate. It is a seeded PCG stream behind a mutex, so the observed
// share converges on rate (unlike fake-service's every-int(1/rate)-th
// request) and a given (seed, name) repeats the same sequence.
type errorSampler struct {
	rate float64
	mu   sync.Mutex
	rng  *rand.Rand
}

// newErrorSampler returns a sampler for rate (0..1) whose stream is chosen by
// seed and name together.
func newErrorSampler(rate float64, seed int64, name string) *errorSampler {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &errorSampler{rate: rate, rng: rand.New(rand.NewPCG(uint64(seed), h.Sum64()))}
}

// inject reports whether this request gets an error. Rates 0 and 1 draw no
// number.
func (e *errorSampler) inject() bool {
	switch {
	case e.rate <= 0:
		return false
	case e.rate >= 1:
		return true
	}
	e.mu.Lock()
	x := e.rng.Float64()
	e.mu.Unlock()
	return x < e.rate
}
