package dataplane

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The data-plane listeners (inbound and outbound) do not use net/http's
// server: each connection is served by one goroutine that parses requests
// with http.ReadRequest and writes responses straight to a buffered writer.
// That removes net/http's per-request background-read goroutine and
// deadline resets, the hand-offs that dominate a loopback proxy hop. The
// admin API stays on net/http.
//
// Both the downstream connections served here and the upstream pool's
// connections read and write through newConnIO: on Linux, raw read(2) and
// write(2) that skip the runtime's syscall bookkeeping, which otherwise
// wakes the sleeping sysmon thread on every request of a lightly loaded
// proxy (hotserver_linux.go). A response is flushed after the handler returns,
// so its metrics are counted before the downstream sees it.

// hotHandler serves one request on a data-plane connection.
type hotHandler interface {
	serveHot(w *respWriter, r *http.Request)
}

// hotServer is a minimal HTTP/1.1 server for the data-plane listeners.
type hotServer struct {
	ln       net.Listener
	h        hotHandler
	errorLog *log.Logger

	mu      sync.Mutex
	conns   map[*hotConn]struct{}
	closing atomic.Bool
	wg      sync.WaitGroup
}

type hotConn struct {
	c    net.Conn
	busy atomic.Bool
}

func newHotServer(ln net.Listener, h hotHandler, errorLog *log.Logger) *hotServer {
	return &hotServer{ln: ln, h: h, errorLog: errorLog, conns: make(map[*hotConn]struct{})}
}

// serve accepts until the listener closes.
func (s *hotServer) serve() {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary accept failure (e.g. out of file descriptors).
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.errorLog.Printf("accept on %s: %v; retrying in %v", s.ln.Addr(), err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		hc := &hotConn{c: c}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[hc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(hc)
	}
}

// shutdown stops accepting, closes idle connections, waits for requests in
// flight until ctx ends, then closes the rest.
func (s *hotServer) shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.ln.Close()
	s.closeConns(true)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			s.closeConns(false)
			<-done
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
			s.closeConns(true)
		}
	}
}

func (s *hotServer) closeConns(idleOnly bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for hc := range s.conns {
		if !idleOnly || !hc.busy.Load() {
			hc.c.Close()
		}
	}
}

var (
	hotReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	hotWriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

func (s *hotServer) serveConn(hc *hotConn) {
	c := hc.c
	br := hotReaderPool.Get().(*bufio.Reader)
	bw := hotWriterPool.Get().(*bufio.Writer)
	cio := newConnIO(c)
	br.Reset(cio)
	bw.Reset(cio)
	defer func() {
		c.Close()
		br.Reset(nil)
		bw.Reset(nil)
		hotReaderPool.Put(br)
		hotWriterPool.Put(bw)
		s.mu.Lock()
		delete(s.conns, hc)
		s.mu.Unlock()
		s.wg.Done()
	}()
	w := &respWriter{bw: bw, header: make(http.Header)}
	for {
		// Wait for the next request without holding it "busy".
		if _, err := br.Peek(1); err != nil {
			return
		}
		hc.busy.Store(true)
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.reset(&http.Request{Method: http.MethodGet, ProtoMajor: 1, ProtoMinor: 1})
				w.closeAfter = true
				localReply(w, http.StatusBadRequest, "bad request: "+oneLine(err.Error()))
				w.finish()
				bw.Flush()
			}
			return
		}
		req.RemoteAddr = "" // not used; avoids formatting the address
		w.reset(req)
		if req.ProtoMajor != 1 {
			w.closeAfter = true
			localReply(w, http.StatusHTTPVersionNotSupported, "HTTP/1.x only")
		} else {
			if expectsContinue(req) {
				delete(req.Header, "Expect")
				bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
				bw.Flush()
			}
			s.h.serveHot(w, req)
		}
		w.finish()
		if !drainBody(req.Body) {
			w.closeAfter = true
		}
		if w.err == nil && br.Buffered() == 0 {
			w.err = bw.Flush()
		}
		if w.err != nil || w.closeAfter || s.closing.Load() {
			bw.Flush()
			return
		}
		hc.busy.Store(false)
	}
}

func expectsContinue(r *http.Request) bool {
	v := r.Header["Expect"]
	return len(v) == 1 && (v[0] == "100-continue" || v[0] == "100-Continue")
}

// drainBody reads what is left of a request body (up to 256 KiB) so the
// connection can serve the next request; false means close instead.
func drainBody(b io.ReadCloser) bool {
	if b == nil || b == http.NoBody {
		return true
	}
	n, err := io.CopyN(io.Discard, b, 256<<10)
	b.Close()
	return n < 256<<10 && (err == nil || err == io.EOF)
}

// respWriter writes one HTTP/1.1 response to a hot connection. It
// implements http.ResponseWriter for the handlers' helpers.
type respWriter struct {
	bw          *bufio.Writer
	header      http.Header
	req         *http.Request
	wroteHeader bool
	status      int
	chunked     bool
	noBody      bool
	closeAfter  bool
	trailers    []string
	err         error
	scratch     [32]byte
}

func (w *respWriter) reset(r *http.Request) {
	clear(w.header)
	w.req = r
	w.wroteHeader, w.chunked, w.noBody, w.trailers, w.err, w.status = false, false, false, nil, nil, 0
	w.closeAfter = r.Close || r.ProtoMinor == 0
}

// Header returns the response header to fill before WriteHeader.
func (w *respWriter) Header() http.Header { return w.header }

var statusLines = func() map[int]string {
	m := map[int]string{}
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			m[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
	return m
}()

// WriteHeader writes the status line and headers. Without Content-Length
// the body is chunked (HTTP/1.1) or delimited by closing (HTTP/1.0).
func (w *respWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader, w.status = true, code
	bw := w.bw
	if line, ok := statusLines[code]; ok {
		bw.WriteString(line)
	} else {
		bw.WriteString("HTTP/1.1 ")
		bw.Write(strconv.AppendInt(w.scratch[:0], int64(code), 10))
		bw.WriteString(" status\r\n")
	}
	w.noBody = w.req.Method == http.MethodHead || code == 204 || code == 304 || (code >= 100 && code < 200)
	_, hasLen := w.header["Content-Length"]
	if !hasLen && !w.noBody {
		if w.req.ProtoMinor >= 1 {
			w.chunked = true
			bw.WriteString("Transfer-Encoding: chunked\r\n")
		} else {
			w.closeAfter = true
		}
	}
	if code == 204 || code == 304 || (code >= 100 && code < 200) {
		delete(w.header, "Content-Length")
	}
	for k, vv := range w.header {
		if k == "Trailer" {
			if w.chunked {
				w.trailers = vv
			} else {
				continue
			}
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if w.closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	_, w.err = bw.WriteString("\r\n")
}

// Write writes body bytes (framed as chunks when chunked).
func (w *respWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody || len(p) == 0 {
		return len(p), nil
	}
	if w.chunked {
		w.bw.Write(strconv.AppendUint(w.scratch[:0], uint64(len(p)), 16))
		w.bw.WriteString("\r\n")
	}
	n, err := w.bw.Write(p)
	if w.chunked && err == nil {
		_, err = w.bw.WriteString("\r\n")
	}
	w.err = err
	return n, err
}

// finish ends the response: the last chunk and trailers when chunked.
func (w *respWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.chunked && w.err == nil {
		w.bw.WriteString("0\r\n")
		for _, k := range w.trailers {
			for _, v := range w.header[http.TrailerPrefix+k] {
				w.bw.WriteString(k)
				w.bw.WriteString(": ")
				w.bw.WriteString(v)
				w.bw.WriteString("\r\n")
			}
		}
		_, w.err = w.bw.WriteString("\r\n")
	}
}
