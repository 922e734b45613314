//go:build linux

package dataplane

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawConnIO reads and writes a TCP connection's socket with raw read(2)
// and write(2) (syscall.RawSyscall) and waits for readiness in the
// runtime's network poller through syscall.RawConn: the same non-blocking
// read, EAGAIN, park-until-ready loop as net.Conn, without the runtime's
// entersyscall and exitsyscall around each call.
//
// Why: when every P of a Go process is idle, sysmon parks in a deep sleep,
// and the next entersyscall wakes it (runtime/proc.go,
// entersyscallWakeSysmon); woken that way, sysmon polls every 20 µs for up
// to 1 ms before backing off again. A proxy at a modest request rate goes
// idle between requests, so each request paid a futex wake of sysmon on
// its critical path and then a burst of sysmon's 20 µs polls competing for
// the CPU with the hop itself: about a quarter of the sidecar's CPU at
// 1000 req/s (perf, see bench/proxybench). The socket is non-blocking
// (net's sockets always are), so a raw read or write returns at once and
// never holds the thread.
//
// A rawConnIO is used by one reader goroutine and one writer goroutine at
// most (as a bufio.Reader and bufio.Writer each use it), like a net.Conn.
// Errors are those of syscall.RawConn (wrapped in *net.OpError, "raw-read"
// and "raw-write"; deadlines and Close work as on the net.Conn) or the
// syscall.Errno of the call; a read of 0 bytes is io.EOF.
type rawConnIO struct {
	rc syscall.RawConn

	rbuf    []byte
	rn      int
	rerr    error
	readFn  func(fd uintptr) bool
	wbuf    []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
}

// newConnIO returns the reader and writer of c used by the hot path: raw
// system calls on Linux for connections that expose their socket
// (*net.TCPConn, *net.UnixConn), c itself otherwise.
func newConnIO(c net.Conn) io.ReadWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConnIO{rc: rc}
	r.readFn = r.doRead   // bound once: no closure allocated per call
	r.writeFn = r.doWrite //
	return r
}

func (r *rawConnIO) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(r.rbuf))), uintptr(len(r.rbuf)))
		switch e {
		case 0:
			r.rn, r.rerr = int(n), nil
			if n == 0 {
				r.rerr = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // park in the poller until readable
		default:
			r.rn, r.rerr = 0, e
			return true
		}
	}
}

// Read reads up to len(p) bytes; it blocks (parked in the poller) until
// some are available, EOF, an error, or the connection's deadline.
func (r *rawConnIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rbuf = p
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	if err != nil {
		return 0, err
	}
	return r.rn, r.rerr
}

func (r *rawConnIO) doWrite(fd uintptr) bool {
	for len(r.wbuf) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(r.wbuf))), uintptr(len(r.wbuf)))
		switch e {
		case 0:
			if n == 0 {
				r.werr = io.ErrShortWrite
				return true
			}
			r.wn += int(n)
			r.wbuf = r.wbuf[n:]
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // park in the poller until writable
		default:
			r.werr = e
			return true
		}
	}
	return true
}

// Write writes all of p (in as many write(2) calls as the socket needs)
// or returns the error that stopped it.
func (r *rawConnIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wbuf, r.wn, r.werr = p, 0, nil
	err := r.rc.Write(r.writeFn)
	r.wbuf = nil
	if err == nil {
		err = r.werr
	}
	if err == nil && r.wn < len(p) {
		err = io.ErrShortWrite
	}
	return r.wn, err
}
