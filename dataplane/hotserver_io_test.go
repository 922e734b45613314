package dataplane

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestConnIOIsRawOnLinux(t *testing.T) {
	c, _ := tcpPair(t)
	got := fmt.Sprintf("%T", newConnIO(c))
	want := "*net.TCPConn"
	if runtime.GOOS == "linux" {
		want = "*dataplane.rawConnIO"
	}
	if got != want {
		t.Fatalf("newConnIO(*net.TCPConn) is %s, want %s", got, want)
	}
	// A conn without a socket is used as is.
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if rw := newConnIO(p1); rw != io.ReadWriter(p1) {
		t.Fatalf("newConnIO(net.Pipe) = %T, want the conn itself", rw)
	}
}

// TestConnIOBulk moves more than the socket buffers hold in both
// directions at once, so writes are partial and wait for writability and
// reads wait for readability.
func TestConnIOBulk(t *testing.T) {
	c, s := tcpPair(t)
	cio, sio := newConnIO(c), newConnIO(s)
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	type result struct {
		got []byte
		err error
	}
	read := func(r io.Reader) chan result {
		ch := make(chan result, 1)
		go func() {
			var b bytes.Buffer
			_, err := io.CopyN(&b, r, int64(len(data)))
			ch <- result{b.Bytes(), err}
		}()
		return ch
	}
	atServer, atClient := read(sio), read(cio)
	werr := make(chan error, 2)
	go func() { n, err := cio.Write(data); werr <- wrapShort(n, len(data), err) }()
	go func() { n, err := sio.Write(data); werr <- wrapShort(n, len(data), err) }()
	for range 2 {
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []chan result{atServer, atClient} {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !bytes.Equal(r.got, data) {
			t.Fatalf("received %d bytes that differ from the %d sent", len(r.got), len(data))
		}
	}
}

func wrapShort(n, want int, err error) error {
	if err == nil && n != want {
		return fmt.Errorf("wrote %d of %d bytes", n, want)
	}
	return err
}

func TestConnIOEndsAndErrors(t *testing.T) {
	t.Run("peer close is EOF after the data", func(t *testing.T) {
		c, s := tcpPair(t)
		s.Write([]byte("last"))
		s.Close()
		got, err := io.ReadAll(newConnIO(c))
		if err != nil || string(got) != "last" {
			t.Fatalf("ReadAll = %q, %v; want \"last\", nil", got, err)
		}
		if n, err := newConnIO(c).Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
		}
	})
	t.Run("deadline in the past", func(t *testing.T) {
		c, _ := tcpPair(t)
		c.SetDeadline(aLongTimeAgo)
		_, err := newConnIO(c).Read(make([]byte, 8))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %v, want a deadline error", err)
		}
	})
	t.Run("deadline set while parked", func(t *testing.T) {
		// roundTrip interrupts a parked read this way when ctx ends.
		c, _ := tcpPair(t)
		done := make(chan error, 1)
		go func() { _, err := newConnIO(c).Read(make([]byte, 8)); done <- err }()
		time.Sleep(20 * time.Millisecond)
		c.SetDeadline(aLongTimeAgo)
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read = %v, want a deadline error", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Read still parked 5s after the deadline")
		}
	})
	t.Run("closed locally", func(t *testing.T) {
		c, _ := tcpPair(t)
		rw := newConnIO(c)
		c.Close()
		if _, err := rw.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) || !isStaleConnError(err) {
			t.Fatalf("Read on closed conn = %v, want net.ErrClosed", err)
		}
		if _, err := rw.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write on closed conn = %v, want net.ErrClosed", err)
		}
	})
	t.Run("reset by peer", func(t *testing.T) {
		c, s := tcpPair(t)
		s.(*net.TCPConn).SetLinger(0) // close sends RST
		s.Close()
		rw := newConnIO(c)
		var err error
		for range 100 { // the first writes may still be accepted locally
			if _, err = rw.Write([]byte("ping")); err != nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err == nil {
			_, err = rw.Read(make([]byte, 8))
		}
		if !isStaleConnError(err) {
			t.Fatalf("after a reset: %v, want ECONNRESET or EPIPE (a stale connection error)", err)
		}
	})
}

// TestHotServerFlushAndPipelining checks the responses' bytes on the
// wire: a complete response is sent at once, pipelined requests get their
// responses in order, and HEAD and 204 answers carry no body.
func TestHotServerFlushAndPipelining(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/chunked":
			w.Write([]byte("part1-"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
		default:
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		}
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
	}}})
	c, err := net.Dial("tcp", sc.Addrs().Outbound["currency"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	type want struct {
		method, path string
		code         int
		body         string
	}
	wants := []want{
		{"GET", "/a", 200, "hello"},
		{"HEAD", "/a", 200, ""},
		{"GET", "/empty", 204, ""},
		{"GET", "/chunked", 200, "part1-part2"},
		{"GET", "/b", 200, "hello"},
	}
	check := func(w want) {
		t.Helper()
		req, _ := http.NewRequest(w.method, "http://x"+w.path, nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s %s: %v", w.method, w.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != w.code || string(body) != w.body {
			t.Fatalf("%s %s = %d %q (%v), want %d %q", w.method, w.path, resp.StatusCode, body, err, w.code, w.body)
		}
	}
	// One at a time: each response arrives without the client sending
	// anything more.
	for _, w := range wants {
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", w.method, w.path)
		check(w)
	}
	// All pipelined in one write.
	var b strings.Builder
	for _, w := range wants {
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", w.method, w.path)
	}
	io.WriteString(c, b.String())
	for _, w := range wants {
		check(w)
	}
	if br.Buffered() != 0 {
		t.Fatalf("%d unexpected bytes after the responses", br.Buffered())
	}
}
