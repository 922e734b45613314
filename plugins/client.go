package plugins

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pluginv1 "meshgym/plugins/proto/v1"
)

// exitPollInterval is how often a Client checks whether its plugin process
// has exited.
const exitPollInterval = 100 * time.Millisecond

// Client is an open plugin. It implements Mesh: every call goes over gRPC to
// the plugin (a process started by Loader.Open, or a server inside this
// process for InProcess), and every error is an *Error naming the plugin;
// once the process is gone calls fail with CodeUnavailable.
type Client struct {
	*remote

	proc   *proc   // nil in process
	loader *Loader // nil in process
	stop   func()  // in process: stops the server

	died    chan error
	closing chan struct{}
	once    sync.Once
}

var _ Mesh = (*Client)(nil)

func newClient(r *remote) *Client {
	return &Client{remote: r, died: make(chan error, 1), closing: make(chan struct{})}
}

// Name is the plugin's name as opened ("builtin", "minimal").
func (c *Client) Name() string { return c.name }

// PID is the plugin process ID; 0 for an InProcess client.
func (c *Client) PID() int { return c.pid }

// Died delivers one error (CodeUnavailable, naming the plugin and its PID,
// and the telling line of its output when there is one: the first
// "panic:" line, else the last non-empty line, at most about 200
// characters: "mesh plugin minimal: plugin process (pid 123) exited:
// panic: boom") and is then closed, if the plugin process exits while the
// client is open; it is checked every 100 ms. Whatever the plugin started
// in its process group is killed then (Unix). It never fires after Close,
// nor for an InProcess client.
func (c *Client) Died() <-chan error { return c.died }

// watch polls go-plugin's Exited until the process exits or Close.
func (c *Client) watch() {
	t := time.NewTicker(exitPollInterval)
	defer t.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-t.C:
			if !c.proc.pc.Exited() {
				continue
			}
			select {
			case <-c.closing: // killed by Close
				return
			default:
			}
			killProcessGroup(c.pid) // what the plugin left running
			msg := withLine(fmt.Sprintf("plugin process (pid %d) exited", c.pid), c.proc.tail.summary())
			c.died <- &Error{Plugin: c.name, Code: CodeUnavailable, Msg: msg}
			close(c.died)
			return
		}
	}
}

// Close ends the plugin: it kills the process and its process group
// (SIGKILL on Unix: whatever the plugin started dies with it), then lets
// go-plugin clean up, waiting for that at most 2 s — it never blocks for
// ever, even if a stray process keeps the plugin's output open. For an
// InProcess client it stops the server. Safe to call more than once and
// from several goroutines; always returns nil.
func (c *Client) Close() error {
	c.once.Do(func() {
		close(c.closing)
		if c.proc != nil {
			c.proc.kill()
		}
		if c.stop != nil {
			c.stop()
		}
		if c.loader != nil {
			c.loader.forget(c)
		}
	})
	return nil
}

// InProcess serves impl as plugin name over a real gRPC connection inside
// this process (an in-memory bufconn listener): the same wire as a plugin
// process (encoding, error codes, context propagation, the event stream)
// without starting one, for tests and for hosts that link a plugin in. Its
// PID is 0 and Died never fires; Close stops the server. The error is
// non-nil only when the connection cannot be set up.
func InProcess(name string, impl Mesh) (*Client, error) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pluginv1.RegisterMeshPluginServer(srv, &server{impl: impl})
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///meshgym-plugin-"+name,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, &Error{Plugin: name, Code: CodeInternal, Msg: "in-process connection: " + err.Error()}
	}
	c := newClient(&remote{name: name, c: pluginv1.NewMeshPluginClient(conn)})
	c.stop = func() {
		_ = conn.Close()
		srv.Stop()
	}
	return c, nil
}
