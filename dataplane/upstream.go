package dataplane

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"syscall"
	"time"

	"meshgym/tracing/tracelite"
)

// upstreamPool is the sidecar's HTTP/1.1 client for loopback upstreams: a
// keep-alive connection pool per address whose requests are written and
// whose responses are read on the calling goroutine. Unlike http.Transport
// there is no per-connection read and write goroutine to hand each request
// to, which is most of the cost of a hop on loopback. Connections read
// and write through newConnIO (raw system calls on Linux, see
// hotserver_linux.go), and a request whose header and body fit the 4 KiB
// buffer goes out in one write(2). No proxy from the environment,
// no compression negotiation, no HTTP/2.
type upstreamPool struct {
	dialer         net.Dialer
	maxIdlePerHost int

	mu   sync.Mutex
	idle map[string][]*upConn
}

// DefaultConnectTimeout is Envoy's default cluster connect_timeout (5 s).
const DefaultConnectTimeout = 5 * time.Second

// MaxIdleConnsPerEndpoint bounds the keep-alive connections kept per
// upstream address.
const MaxIdleConnsPerEndpoint = 1024

func newUpstreamPool() *upstreamPool {
	return &upstreamPool{
		dialer:         net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second},
		maxIdlePerHost: MaxIdleConnsPerEndpoint,
		idle:           make(map[string][]*upConn),
	}
}

// upConn is one upstream connection with its buffers.
type upConn struct {
	c     net.Conn
	io    io.ReadWriter // c's reads and writes (newConnIO)
	addr  string
	br    *bufio.Reader
	bw    *bufio.Writer
	nread int64 // bytes read from c, to tell "no response byte yet"
}

func (u *upConn) Read(p []byte) (int, error) {
	n, err := u.io.Read(p)
	u.nread += int64(n)
	return n, err
}

func (p *upstreamPool) get(ctx context.Context, addr string) (*upConn, bool, error) {
	p.mu.Lock()
	if l := p.idle[addr]; len(l) > 0 {
		u := l[len(l)-1]
		l[len(l)-1] = nil
		p.idle[addr] = l[:len(l)-1]
		p.mu.Unlock()
		return u, true, nil
	}
	p.mu.Unlock()
	c, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	u := &upConn{c: c, io: newConnIO(c), addr: addr}
	u.br = bufio.NewReaderSize(u, 4<<10)
	u.bw = bufio.NewWriterSize(u.io, 4<<10)
	return u, false, nil
}

func (p *upstreamPool) put(u *upConn) {
	p.mu.Lock()
	if l := p.idle[u.addr]; len(l) < p.maxIdlePerHost {
		p.idle[u.addr] = append(l, u)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	u.c.Close()
}

// closeIdle closes every idle connection.
func (p *upstreamPool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, l := range p.idle {
		for _, u := range l {
			u.c.Close()
		}
		delete(p.idle, addr)
	}
}

// upRequest is what to send upstream: the downstream request with its
// header filtered on the fly (hop-by-hop headers dropped), an optional
// attempt count, and the body (buffered, streamed, or none).
type upRequest struct {
	in      *http.Request
	attempt int // 0 = pass x-envoy-attempt-count through unchanged
	body    []byte
	stream  io.Reader // body of unknown or large size; not replayable
	// streamLen is the stream's length, -1 when unknown (sent chunked).
	streamLen int64
	// traceparent replaces the incoming traceparent header ("" = pass it
	// through unchanged); set for sampled requests (tracing.go).
	traceparent string
}

var aLongTimeAgo = time.Unix(1, 0)

// roundTrip sends r to addr and reads the response headers. The failure
// tells what went wrong when err != nil. ctx ending interrupts the
// exchange (per-try timeout, client gone). A reused keep-alive connection
// that fails before any response byte is replaced by a new one once, when
// the body can be sent again (as net/http does).
func (p *upstreamPool) roundTrip(ctx context.Context, addr string, r *upRequest) (*http.Response, Failure, error) {
	for try := 0; ; try++ {
		u, reused, err := p.get(ctx, addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, FailureReset, err
			}
			return nil, FailureConnect, err
		}
		var stop func() bool
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { u.c.SetDeadline(aLongTimeAgo) })
		}
		before := u.nread
		err = writeUpstreamRequest(u.bw, r)
		var resp *http.Response
		if err == nil {
			resp, err = readUpstreamResponse(u.br, r.in)
		}
		if stop != nil && !stop() {
			// ctx ended during the exchange: the deadline broke it.
			u.c.Close()
			if err == nil {
				resp.Body.Close()
			}
			return nil, FailureReset, context.Cause(ctx)
		}
		if err != nil {
			u.c.Close()
			if reused && try == 0 && u.nread == before && r.stream == nil && isStaleConnError(err) {
				continue
			}
			return nil, FailureReset, err
		}
		resp.Body = newUpBody(p, u, resp)
		return resp, FailureNone, nil
	}
}

func isStaleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// writeUpstreamRequest writes r in HTTP/1.1 wire format.
func writeUpstreamRequest(bw *bufio.Writer, r *upRequest) error {
	in := r.in
	bw.WriteString(in.Method)
	bw.WriteByte(' ')
	if in.URL.Host == "" && in.RequestURI != "" && in.RequestURI[0] == '/' {
		bw.WriteString(in.RequestURI)
	} else {
		bw.WriteString(in.URL.RequestURI())
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(in.Host)
	bw.WriteString("\r\n")
	conn := in.Header["Connection"]
	for k, vv := range in.Header {
		if isHopHeader(k) || k == "Content-Length" || k == "Expect" ||
			(r.attempt > 0 && k == AttemptCountHeader) || (r.traceparent != "" && k == tracelite.TraceparentHeader) || listedIn(conn, k) {
			if k == "Te" && hasToken(vv, "trailers") {
				bw.WriteString("Te: trailers\r\n")
			}
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	var scratch [20]byte
	if r.traceparent != "" {
		bw.WriteString(tracelite.TraceparentHeader + ": ")
		bw.WriteString(r.traceparent)
		bw.WriteString("\r\n")
	}
	if r.attempt > 0 {
		bw.WriteString(AttemptCountHeader + ": ")
		bw.Write(strconv.AppendInt(scratch[:0], int64(r.attempt), 10))
		bw.WriteString("\r\n")
	}
	switch {
	case r.stream != nil && r.streamLen < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		cw := httputil.NewChunkedWriter(bw)
		if _, err := io.Copy(cw, r.stream); err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
		bw.WriteString("\r\n")
	case r.stream != nil:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(scratch[:0], r.streamLen, 10))
		bw.WriteString("\r\n\r\n")
		if _, err := io.CopyN(bw, r.stream, r.streamLen); err != nil {
			return err
		}
	case len(r.body) > 0 || in.ContentLength == 0 && methodHasBody(in.Method):
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(scratch[:0], int64(len(r.body)), 10))
		bw.WriteString("\r\n\r\n")
		bw.Write(r.body)
	default:
		bw.WriteString("\r\n")
	}
	return bw.Flush()
}

func methodHasBody(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// readUpstreamResponse reads the response headers, skipping 1xx
// informational responses.
func readUpstreamResponse(br *bufio.Reader, in *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, in)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// upBody returns the connection to the pool once the body has been read to
// its end, and closes it when the body is abandoned.
type upBody struct {
	body  io.ReadCloser
	pool  *upstreamPool
	u     *upConn
	reuse bool
}

func newUpBody(p *upstreamPool, u *upConn, resp *http.Response) io.ReadCloser {
	b := &upBody{body: resp.Body, pool: p, u: u, reuse: !resp.Close}
	if resp.Body == http.NoBody || resp.ContentLength == 0 {
		b.release(true)
	}
	return b
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.u == nil {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.release(true)
	} else if err != nil {
		b.release(false)
	}
	return n, err
}

func (b *upBody) Close() error {
	if b.u != nil {
		b.release(false)
	}
	return nil
}

func (b *upBody) release(complete bool) {
	u := b.u
	b.u = nil
	if complete && b.reuse && u.br.Buffered() == 0 {
		b.pool.put(u)
		return
	}
	u.c.Close()
}

// listedIn reports whether header k is named in a Connection header.
func listedIn(conn []string, k string) bool {
	if len(conn) == 0 {
		return false
	}
	for _, v := range conn {
		for _, f := range splitTokens(v) {
			if http.CanonicalHeaderKey(f) == k {
				return true
			}
		}
	}
	return false
}

func hasToken(vv []string, tok string) bool {
	for _, v := range vv {
		for _, f := range splitTokens(v) {
			if f == tok {
				return true
			}
		}
	}
	return false
}
