package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"meshgym/tracing/tracelite"
)

// Options configure a sidecar; they mirror the meshgym-sidecar flags.
type Options struct {
	// Name is the component name (--name), e.g. "currency_v1_sidecar" or
	// "currency_v1"; it labels inbound metrics and events.
	Name string
	// AdminAddr is the admin API's listen address (--admin), host:port.
	AdminAddr string
	// InboundAddr and AppAddr (--inbound, --app) are the inbound listener
	// and the local app it forwards to; both empty for no inbound listener.
	InboundAddr, AppAddr string
	// Outbound lists the outbound listeners (--outbound SVC=ADDR).
	Outbound []OutboundListener
	// Seed seeds the random source of the random load balancer and the
	// retry back-off jitter; 0 picks a seed from the time.
	Seed uint64
	// Clock is the time source; nil means RealClock.
	Clock Clock
	// Rand, when set, replaces the seeded source (it must be safe for
	// concurrent use).
	Rand func() uint64
	// ErrorLog receives listener errors; nil means standard error.
	ErrorLog *log.Logger
	// Tracer records the spans of sampled requests (see tracing.go); nil
	// turns tracing off. The caller owns it (flush and shut it down after
	// the sidecar). [Main] makes one from the OTEL_EXPORTER_OTLP_*
	// environment.
	Tracer *tracelite.Tracer
}

// OutboundListener is one --outbound SVC=ADDR: a local listener whose
// requests are routed to cluster Service.
type OutboundListener struct {
	// Service is the upstream service (cluster) name, e.g. "currency".
	Service string
	// Addr is the listen address, host:port (port 0 picks a free port).
	Addr string
}

// Addresses are the bound addresses of a running sidecar; this is also the
// JSON printed after READY by the executable.
type Addresses struct {
	// Name is the sidecar's component name.
	Name string `json:"name"`
	// Listen is the address the component serves on: the inbound listener
	// if there is one, else the admin address.
	Listen string `json:"listen"`
	// Admin is the admin API address.
	Admin string `json:"admin"`
	// Inbound is the inbound listener address ("" when none).
	Inbound string `json:"inbound,omitempty"`
	// Outbound maps each upstream service to its outbound listener address.
	Outbound map[string]string `json:"outbound"`
}

// BindError reports a listen address that could not be bound.
type BindError struct {
	// Addr is the address that failed.
	Addr string
	// Err is the underlying error.
	Err error
}

// Error says which address could not be bound.
func (e *BindError) Error() string { return fmt.Sprintf("cannot listen on %s: %v", e.Addr, e.Err) }

// Unwrap returns the underlying error.
func (e *BindError) Unwrap() error { return e.Err }

// Sidecar is a running sidecar proxy: its listeners, admin API and state.
type Sidecar struct {
	opts  Options
	fwd   *forwarder
	tel   *telemetry
	addrs Addresses
	hot   []*hotServer
	admin *http.Server
	lns   []net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex // serialises config pushes
}

// Start binds every listener of opts and serves them. A listener that
// cannot be bound yields a *BindError (and nothing stays open).
func Start(opts Options) (*Sidecar, error) {
	if opts.Name == "" {
		return nil, errors.New("dataplane: Options.Name is empty")
	}
	if (opts.InboundAddr == "") != (opts.AppAddr == "") {
		return nil, errors.New("dataplane: inbound and app addresses go together")
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = log.New(stderr, opts.Name+": ", log.LstdFlags)
	}
	rnd := opts.Rand
	if rnd == nil {
		seed := opts.Seed
		if seed == 0 {
			seed = uint64(time.Now().UnixNano())
		}
		rnd = newLockedRand(seed)
	}
	tel, err := newTelemetry(opts.Name)
	if err != nil {
		return nil, fmt.Errorf("dataplane: metrics: %w", err)
	}
	s := &Sidecar{opts: opts, tel: tel}
	s.fwd = &forwarder{name: opts.Name, pool: newUpstreamPool(), tel: tel, clock: opts.Clock, rand: rnd, tracer: opts.Tracer}
	s.fwd.events = newEventHub(func() { tel.eventsDropped.Add(context.Background(), 1, tel.droppedOpts...) })

	listen := func(addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return nil, &BindError{Addr: addr, Err: err}
		}
		s.lns = append(s.lns, ln)
		return ln, nil
	}
	var handlers []hotHandler
	s.addrs = Addresses{Name: opts.Name, Outbound: map[string]string{}}
	if opts.InboundAddr != "" {
		ln, err := listen(opts.InboundAddr)
		if err != nil {
			return nil, err
		}
		s.addrs.Inbound = ln.Addr().String()
		handlers = append(handlers, &inboundHandler{f: s.fwd, app: opts.AppAddr})
	}
	for _, o := range opts.Outbound {
		if o.Service == "" {
			s.closeListeners()
			return nil, fmt.Errorf("dataplane: outbound listener %q has no service name", o.Addr)
		}
		if _, dup := s.addrs.Outbound[o.Service]; dup {
			s.closeListeners()
			return nil, fmt.Errorf("dataplane: outbound service %q given twice", o.Service)
		}
		ln, err := listen(o.Addr)
		if err != nil {
			return nil, err
		}
		s.addrs.Outbound[o.Service] = ln.Addr().String()
		handlers = append(handlers, &outboundHandler{f: s.fwd, svc: o.Service})
	}
	adminLn, err := listen(opts.AdminAddr)
	if err != nil {
		return nil, err
	}
	s.addrs.Admin = adminLn.Addr().String()
	s.addrs.Listen = s.addrs.Admin
	if s.addrs.Inbound != "" {
		s.addrs.Listen = s.addrs.Inbound
	}
	for i, h := range handlers {
		hs := newHotServer(s.lns[i], h, opts.ErrorLog)
		s.hot = append(s.hot, hs)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); hs.serve() }()
	}
	s.admin = &http.Server{
		Handler:           s.adminHandler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          opts.ErrorLog,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.ErrorLog.Printf("serve admin %s: %v", adminLn.Addr(), err)
		}
	}()
	return s, nil
}

func (s *Sidecar) closeListeners() {
	for _, ln := range s.lns {
		ln.Close()
	}
	s.lns = nil
}

// Addrs returns the bound addresses.
func (s *Sidecar) Addrs() Addresses {
	a := s.addrs
	a.Outbound = make(map[string]string, len(s.addrs.Outbound))
	for k, v := range s.addrs.Outbound {
		a.Outbound[k] = v
	}
	return a
}

// ApplyConfig validates c and makes it the running configuration
// atomically; requests in flight finish under the config they started with.
// The error is a one-line message.
func (s *Sidecar) ApplyConfig(c Config) error {
	rc, err := compileConfig(cloneConfig(c), s.fwd.clock, s.fwd.rand)
	if err != nil {
		return err
	}
	s.mu.Lock()
	bindLoad(rc, s.fwd.cfg.Load())          // lb.go: load-aware balancers kept
	s.fwd.bindOutlier(rc, s.fwd.cfg.Load()) // outlier.go: detectors kept or retired
	// policy.go: rate-limit buckets and retry limits kept or made.
	attachPolicies(rc, s.fwd.cfg.Load(), s.fwd.clock)
	s.fwd.cfg.Store(rc)
	s.mu.Unlock()
	detail := fmt.Sprintf("version %d: %s", c.Version, clusterList(c))
	s.fwd.events.publish(Event{Time: s.fwd.clock.Now(), Component: s.opts.Name, Kind: EventConfig, Detail: detail})
	s.opts.ErrorLog.Printf("config applied: %s", detail)
	return nil
}

func clusterList(c Config) string {
	names := make([]string, 0, len(c.Clusters))
	for k, cl := range c.Clusters {
		retry := "no retry"
		if cl.Retry != nil {
			retry = fmt.Sprintf("%d retries on %v", cl.Retry.NumRetries, cl.Retry.RetryOn)
		}
		names = append(names, fmt.Sprintf("%s (%d endpoints, %s)", k, len(cl.Endpoints), retry))
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// Config returns the running configuration and whether one was pushed.
func (s *Sidecar) Config() (Config, bool) {
	rc := s.fwd.cfg.Load()
	if rc == nil {
		return Config{}, false
	}
	return cloneConfig(rc.cfg), true
}

// Ready reports whether the sidecar serves traffic: listening and
// configured.
func (s *Sidecar) Ready() bool { return s.fwd.cfg.Load() != nil }

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then closes everything.
func (s *Sidecar) Shutdown(ctx context.Context) error {
	var first error
	for _, hs := range s.hot {
		if err := hs.shutdown(ctx); err != nil && first == nil {
			first = err
		}
	}
	if err := s.admin.Shutdown(ctx); err != nil {
		s.admin.Close()
		if first == nil {
			first = err
		}
	}
	s.wg.Wait()
	s.fwd.pool.closeIdle()
	_ = s.tel.shutdown(context.Background())
	return first
}

// Close stops the sidecar at once.
func (s *Sidecar) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, hs := range s.hot {
		_ = hs.shutdown(ctx)
	}
	s.admin.Close()
	s.wg.Wait()
	s.fwd.pool.closeIdle()
	_ = s.tel.shutdown(context.Background())
	return nil
}

func cloneConfig(c Config) Config {
	out := Config{Version: c.Version, Clusters: make(map[string]Cluster, len(c.Clusters)), Inbound: cloneInbound(c.Inbound)}
	for k, cl := range c.Clusters {
		cl.Endpoints = append([]Endpoint(nil), cl.Endpoints...)
		clonePolicies(&cl) // policy.go
		if cl.Retry != nil {
			r := *cl.Retry
			r.RetryOn = append([]string(nil), r.RetryOn...)
			r.RetriableStatusCodes = append([]int(nil), r.RetriableStatusCodes...)
			cl.Retry = &r
		}
		if cl.Name == "" {
			cl.Name = k
		}
		out.Clusters[k] = cl
	}
	return out
}

// MaxConfigBytes bounds a PUT /config body.
const MaxConfigBytes = 1 << 20

func (s *Sidecar) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /config", func(w http.ResponseWriter, r *http.Request) {
		var c Config
		dec := json.NewDecoder(io.LimitReader(r.Body, MaxConfigBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			http.Error(w, "bad config JSON: "+oneLine(err.Error()), http.StatusBadRequest)
			return
		}
		if err := s.ApplyConfig(c); err != nil {
			http.Error(w, "invalid config: "+oneLine(err.Error()), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		c, _ := s.Config()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c)
	})
	mux.Handle("GET /metrics", s.tel.handler)
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready: no config pushed yet (PUT /config)", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		ch, stop := s.fwd.events.subscribe(EventBufferSize)
		defer stop()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		if fl != nil {
			fl.Flush()
		}
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case e := <-ch:
				if err := enc.Encode(e); err != nil {
					return
				}
				// Write what is queued, then flush once.
				for drained := false; !drained; {
					select {
					case e := <-ch:
						if err := enc.Encode(e); err != nil {
							return
						}
					default:
						drained = true
					}
				}
				if fl != nil {
					fl.Flush()
				}
			}
		}
	})
	return mux
}

func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return s[:i]
		}
	}
	return s
}

// newLockedRand returns a goroutine-safe PCG source seeded with seed.
func newLockedRand(seed uint64) func() uint64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() uint64 {
		mu.Lock()
		v := r.Uint64()
		mu.Unlock()
		return v
	}
}
