package plugins

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// parentPollInterval is how often a plugin process checks that its parent
// (the host) is still there.
const parentPollInterval = 500 * time.Millisecond

// Serve serves impl as the mesh plugin name over go-plugin gRPC and does not
// return while the host is connected; call it from a plugin's main(). Run by
// hand (without the handshake cookie in its environment) it says it is a
// plugin and exits 1.
//
// So that nothing is left running after a host crash, the process exits
// (status 0) by itself within about 500 ms of its parent going away: it
// polls os.Getppid() against the value at start (works on Linux, macOS and
// Windows, where a dead parent changes the reported parent or the process
// is re-parented). Logging is quiet: go-plugin's logger writes warnings and
// errors only, to stderr, which the host hands to LoaderOptions.Stderr.
func Serve(name string, impl Mesh) {
	serve(name, impl, ProtocolVersion)
}

// serve is Serve with the protocol version as a parameter (tests serve a
// wrong version to check the handshake refuses it).
func serve(name string, impl Mesh, version int) {
	ticker := time.NewTicker(parentPollInterval)
	go watchParent(os.Getppid(), os.Getppid, ticker.C, func() {
		fmt.Fprintf(os.Stderr, "meshgym-plugin-%s: parent process exited, stopping\n", name)
		os.Exit(0)
	})
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "meshgym-plugin-" + name,
		Level:  hclog.Warn,
		Output: os.Stderr,
	})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake(version),
		Plugins:         plugin.PluginSet{PluginKey: &GRPCPlugin{Impl: impl, Name: name}},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          logger,
	})
}

// watchParent calls exit once getppid() differs from start, checking at
// every tick; it returns after calling exit.
func watchParent(start int, getppid func() int, tick <-chan time.Time, exit func()) {
	for range tick {
		if getppid() != start {
			exit()
			return
		}
	}
}

// StartedByHost reports whether this process was started by a meshgym host
// as a plugin: the handshake cookie MagicCookieKey=MagicCookieValue is in
// its environment. A plugin's main (or `meshgym plugin serve`) can check it
// first and refuse with its own one-line message when run by hand, instead
// of Serve's go-plugin notice and exit status 1.
func StartedByHost() bool {
	return os.Getenv(MagicCookieKey) == MagicCookieValue
}
