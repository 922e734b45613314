package tracing

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meshgym/tracing/tracelite"
)

// MaxExportBody bounds one export request's body, in bytes (after gzip).
const MaxExportBody = 16 << 20

// DefaultForwardQueue is how many export requests wait to be forwarded to
// the user's endpoint before new ones are dropped (and counted).
const DefaultForwardQueue = 256

// ForwardTimeout bounds one forwarded export request.
const ForwardTimeout = 2 * time.Second

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// Addr is the listen address; "" = 127.0.0.1:0 (a free loopback port).
	Addr string
	// SpansPath is the file every received span is appended to, one Span
	// as JSON per line (created with its directory); "" = none.
	SpansPath string
	// ForwardURL is the user's OTLP/HTTP traces URL (see ForwardURL);
	// every export request received is forwarded there as it came (body,
	// Content-Type, Content-Encoding). "" = no forwarding.
	ForwardURL string
	// ForwardQueue bounds the requests waiting to be forwarded
	// (0 = DefaultForwardQueue); when the endpoint is slow or down new
	// ones are dropped and counted, never blocking the components.
	ForwardQueue int
	// Logf receives one-line notes (the first forwarding failure); nil =
	// none.
	Logf func(format string, args ...any)
}

// ReceiverStats count what a Receiver saw.
type ReceiverStats struct {
	// Requests is the number of export requests accepted.
	Requests int64 `json:"requests"`
	// Spans is the number of spans received (and written).
	Spans int64 `json:"spans"`
	// Rejected counts export requests that could not be decoded (400).
	Rejected int64 `json:"rejected,omitempty"`
	// Forwarded counts export requests the user's endpoint accepted.
	Forwarded int64 `json:"forwarded,omitempty"`
	// ForwardDropped counts export requests not forwarded: queue full,
	// endpoint down or answering non-2xx.
	ForwardDropped int64 `json:"forward_dropped,omitempty"`
}

// Receiver is an OTLP/HTTP trace receiver (POST /v1/traces, protobuf or
// JSON, optionally gzip; https://opentelemetry.io/docs/specs/otlp/#otlphttp)
// that writes spans to the run's span file and forwards the raw requests
// to the user's OTLP endpoint.
type Receiver struct {
	opts ReceiverOptions
	ln   net.Listener
	srv  *http.Server
	url  string

	mu   sync.Mutex
	file *os.File
	w    *bufio.Writer

	fwd       chan forwardItem
	fwdDone   chan struct{}
	fwdClient *http.Client
	fwdWarned atomic.Bool
	fwdMu     sync.RWMutex // guards sending on fwd against its close
	fwdClosed bool

	requests, spans, rejected, forwarded, fwdDropped atomic.Int64
	closeOnce                                        sync.Once
}

type forwardItem struct {
	body            []byte
	ctype, encoding string
}

// StartReceiver listens and serves until Close. It errors when the spans
// file cannot be created or the address cannot be bound.
func StartReceiver(opts ReceiverOptions) (*Receiver, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.ForwardQueue <= 0 {
		opts.ForwardQueue = DefaultForwardQueue
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	r := &Receiver{opts: opts}
	if opts.SpansPath != "" {
		if err := os.MkdirAll(filepath.Dir(opts.SpansPath), 0o755); err != nil {
			return nil, fmt.Errorf("traces: %w", err)
		}
		f, err := os.OpenFile(opts.SpansPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("traces: %w", err)
		}
		r.file, r.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		if r.file != nil {
			r.file.Close()
		}
		return nil, fmt.Errorf("traces: OTLP receiver: %w", err)
	}
	r.ln = ln
	r.url = "http://" + ln.Addr().String()
	if opts.ForwardURL != "" {
		r.fwd = make(chan forwardItem, opts.ForwardQueue)
		r.fwdDone = make(chan struct{})
		r.fwdClient = &http.Client{Timeout: ForwardTimeout, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4}}
		go r.forwardLoop()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+tracelite.TracesPath, r.handle)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Endpoint is the base URL to give components as
// OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:43117.
func (r *Receiver) Endpoint() string { return r.url }

// TracesURL is Endpoint + "/v1/traces".
func (r *Receiver) TracesURL() string { return r.url + tracelite.TracesPath }

// Addr is the bound address host:port.
func (r *Receiver) Addr() string { return r.ln.Addr().String() }

// Stats returns the counts so far.
func (r *Receiver) Stats() ReceiverStats {
	return ReceiverStats{Requests: r.requests.Load(), Spans: r.spans.Load(), Rejected: r.rejected.Load(),
		Forwarded: r.forwarded.Load(), ForwardDropped: r.fwdDropped.Load()}
}

// Close stops receiving, forwards what is queued (until ctx ends; the
// rest is counted as dropped) and closes the span file.
func (r *Receiver) Close(ctx context.Context) error {
	var err error
	r.closeOnce.Do(func() {
		if serr := r.srv.Shutdown(ctx); serr != nil {
			r.srv.Close()
		}
		if r.fwd != nil {
			r.fwdMu.Lock()
			r.fwdClosed = true
			close(r.fwd)
			r.fwdMu.Unlock()
			select {
			case <-r.fwdDone:
			case <-ctx.Done():
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.file != nil {
			err = errors.Join(r.w.Flush(), r.file.Close())
			r.file = nil
		}
	})
	return err
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(req.Body, MaxExportBody+1))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(raw) > MaxExportBody {
		r.rejected.Add(1)
		http.Error(w, "export request too large", http.StatusRequestEntityTooLarge)
		return
	}
	body := raw
	enc := req.Header.Get("Content-Encoding")
	if strings.EqualFold(enc, "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, 4*MaxExportBody))
		}
		if err != nil {
			r.rejected.Add(1)
			http.Error(w, "bad gzip body: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	ctype, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	isJSON := ctype == "application/json"
	var spans []Span
	if isJSON {
		spans, err = DecodeJSON(body)
	} else {
		spans, err = DecodeProtobuf(body)
	}
	if err != nil {
		r.rejected.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.requests.Add(1)
	r.spans.Add(int64(len(spans)))
	if werr := r.write(spans); werr != nil {
		http.Error(w, "write spans: "+werr.Error(), http.StatusInternalServerError)
		return
	}
	if r.fwd != nil {
		r.fwdMu.RLock()
		if !r.fwdClosed {
			select {
			case r.fwd <- forwardItem{body: raw, ctype: req.Header.Get("Content-Type"), encoding: enc}:
			default:
				r.fwdDropped.Add(1)
			}
		}
		r.fwdMu.RUnlock()
	}
	// An empty ExportTraceServiceResponse: full success.
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (r *Receiver) write(spans []Span) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return nil
	}
	enc := json.NewEncoder(r.w)
	for i := range spans {
		if err := enc.Encode(&spans[i]); err != nil {
			return err
		}
	}
	return r.w.Flush()
}

func (r *Receiver) forwardLoop() {
	defer close(r.fwdDone)
	for it := range r.fwd {
		if err := r.forward(it); err != nil {
			r.fwdDropped.Add(1)
			if r.fwdWarned.CompareAndSwap(false, true) {
				r.opts.Logf("otlp: forwarding traces to %s failed (%v); traces are still recorded in the run directory, further failures are counted, not logged", r.opts.ForwardURL, err)
			}
			continue
		}
		r.forwarded.Add(1)
	}
}

func (r *Receiver) forward(it forwardItem) error {
	req, err := http.NewRequest(http.MethodPost, r.opts.ForwardURL, bytes.NewReader(it.body))
	if err != nil {
		return err
	}
	if it.ctype != "" {
		req.Header.Set("Content-Type", it.ctype)
	}
	if it.encoding != "" {
		req.Header.Set("Content-Encoding", it.encoding)
	}
	resp, err := r.fwdClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// ForwardURL resolves the user's OTLP traces URL: endpoint (the --otlp
// flag) if given, else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else
// OTEL_EXPORTER_OTLP_ENDPOINT; an endpoint that is a base URL gets
// "/v1/traces" appended (as the OTLP exporter spec says of
// OTEL_EXPORTER_OTLP_ENDPOINT), one without a scheme gets http://. ""
// means no forwarding.
func ForwardURL(endpoint string, getenv func(string) string) string {
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		if u := strings.TrimSpace(getenv(tracelite.EnvTracesEndpoint)); u != "" {
			return u
		}
		endpoint = strings.TrimSpace(getenv(tracelite.EnvEndpoint))
		if endpoint == "" {
			return ""
		}
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	if strings.HasSuffix(endpoint, tracelite.TracesPath) {
		return endpoint
	}
	return strings.TrimSuffix(endpoint, "/") + tracelite.TracesPath
}
