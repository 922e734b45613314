package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// ExecutablePrefix starts the file name of every plugin executable in the
// plugin directory: meshgym-plugin-NAME (meshgym-plugin-NAME.exe on Windows).
const ExecutablePrefix = "meshgym-plugin-"

// PluginDirEnv names the environment variable that overrides the default
// plugin directory.
const PluginDirEnv = "MESHGYM_PLUGIN_DIR"

// DefaultStartTimeout bounds how long Open waits for a plugin process to
// complete the handshake.
const DefaultStartTimeout = 10 * time.Second

// LoaderOptions configures a Loader. Zero values mean defaults.
type LoaderOptions struct {
	// Dir is the plugin directory; "" = $MESHGYM_PLUGIN_DIR, or
	// <user config dir>/meshgym/plugins (os.UserConfigDir) when unset.
	Dir string
	// Self is the meshgym executable re-executed as `Self plugin serve NAME`
	// to serve a built-in plugin; "" = os.Executable().
	Self string
	// Builtins are the names served by `Self plugin serve NAME`, listed
	// first by Find; a plugin-directory entry never shadows one.
	Builtins []string
	// Stderr receives the plugin processes' stderr (their warnings, a
	// panic) and go-plugin's own errors; nil discards them.
	Stderr io.Writer
	// StartTimeout bounds the handshake of a starting plugin; 0 =
	// DefaultStartTimeout (10 s).
	StartTimeout time.Duration
}

// Found is a plugin Find can open.
type Found struct {
	Name    string // "builtin", "minimal"
	Builtin bool   // served by re-executing meshgym
	// Path is the executable: LoaderOptions.Self for a built-in, the file
	// in the plugin directory otherwise.
	Path string
}

// Loader finds plugins and starts their processes; Close kills every
// process it started. It is safe for concurrent use.
type Loader struct {
	opts LoaderOptions

	mu      sync.Mutex
	clients map[*Client]struct{}
	closed  bool
}

// NewLoader returns a Loader; nothing is started or read until Find or
// Open.
func NewLoader(opts LoaderOptions) *Loader {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	return &Loader{opts: opts, clients: map[*Client]struct{}{}}
}

// DefaultDir is the plugin directory used when LoaderOptions.Dir is "":
// $MESHGYM_PLUGIN_DIR, else <user config dir>/meshgym/plugins. It fails
// only when neither the variable nor a user config directory is known.
func DefaultDir() (string, error) {
	if d := os.Getenv(PluginDirEnv); d != "" {
		return d, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("plugin directory: set %s (%w)", PluginDirEnv, err)
	}
	return filepath.Join(cfg, "meshgym", "plugins"), nil
}

// Dir is the plugin directory the loader searches.
func (l *Loader) Dir() (string, error) {
	if l.opts.Dir != "" {
		return l.opts.Dir, nil
	}
	return DefaultDir()
}

func (l *Loader) self() (string, error) {
	if l.opts.Self != "" {
		return l.opts.Self, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the meshgym executable to serve built-in plugins: %w", err)
	}
	return exe, nil
}

// Find lists the plugins available: the built-ins first (in
// LoaderOptions.Builtins order), then the executables named
// meshgym-plugin-NAME (.exe on Windows) in the plugin directory, sorted by
// name. A directory entry named like a built-in is left out. A missing
// plugin directory is not an error; an unreadable one returns the
// built-ins with the error.
func (l *Loader) Find() ([]Found, error) {
	var out []Found
	self, selfErr := l.self()
	for _, b := range l.opts.Builtins {
		out = append(out, Found{Name: b, Builtin: true, Path: self})
	}
	if selfErr != nil && len(l.opts.Builtins) > 0 {
		return out, selfErr
	}
	dir, err := l.Dir()
	if err != nil {
		return out, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("read plugin directory: %w", err)
	}
	var found []Found
	for _, e := range entries {
		name, ok := pluginName(e.Name())
		if !ok || slices.Contains(l.opts.Builtins, name) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path) // follows symlinks
		if err != nil || !fi.Mode().IsRegular() || !executable(fi) {
			continue
		}
		found = append(found, Found{Name: name, Path: path})
	}
	slices.SortFunc(found, func(a, b Found) int { return strings.Compare(a.Name, b.Name) })
	return append(out, found...), nil
}

// pluginName is NAME for a file named meshgym-plugin-NAME (with .exe on
// Windows).
func pluginName(file string) (string, bool) {
	if runtime.GOOS == "windows" {
		if !strings.EqualFold(filepath.Ext(file), ".exe") {
			return "", false
		}
		file = file[:len(file)-len(".exe")]
	}
	name, ok := strings.CutPrefix(file, ExecutablePrefix)
	return name, ok && name != ""
}

func executable(fi os.FileInfo) bool {
	if runtime.GOOS == "windows" {
		return true // the .exe suffix was checked
	}
	return fi.Mode().Perm()&0o111 != 0
}

// Open starts the plugin name and returns a client connected to it. The
// process is `Self plugin serve NAME` for a built-in, the plugin
// directory's executable otherwise. Errors are *Error: CodeInvalid for an
// unknown name (the message lists the available plugins), CodeUnsupported
// for a plugin speaking another protocol version (the message names both),
// CodeCanceled when ctx ends first, CodeUnavailable when the process cannot
// be started or does not complete the handshake within StartTimeout.
func (l *Loader) Open(ctx context.Context, name string) (*Client, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, &Error{Plugin: name, Code: CodeUnavailable, Msg: "plugin loader is closed"}
	}
	all, findErr := l.Find()
	i := slices.IndexFunc(all, func(f Found) bool { return f.Name == name })
	if i < 0 {
		var names []string
		for _, f := range all {
			names = append(names, f.Name)
		}
		dir, _ := l.Dir()
		msg := fmt.Sprintf("no mesh plugin %q; available: %s (plugin directory %s holds meshgym-plugin-NAME executables)",
			name, strings.Join(names, ", "), dir)
		if len(names) == 0 {
			msg = fmt.Sprintf("no mesh plugin %q: none available (plugin directory %s holds meshgym-plugin-NAME executables)", name, dir)
		}
		if findErr != nil {
			msg += "; " + findErr.Error()
		}
		return nil, &Error{Code: CodeInvalid, Msg: msg}
	}
	f := all[i]
	var cmd *exec.Cmd
	if f.Builtin {
		cmd = exec.Command(f.Path, "plugin", "serve", name)
	} else {
		cmd = exec.Command(f.Path)
	}
	return l.start(ctx, name, cmd)
}

var versionMismatch = regexp.MustCompile(`Plugin version: (\d+)`)

func (l *Loader) start(ctx context.Context, name string, cmd *exec.Cmd) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Plugin: name, Code: CodeCanceled, Msg: "start: " + err.Error()}
	}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{PluginKey: &GRPCPlugin{Name: name}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Managed:          false,
		StartTimeout:     l.opts.StartTimeout,
		Stderr:           l.opts.Stderr,
		SyncStdout:       l.opts.Stderr, // never the host's stdout: it may carry a JSON report
		SyncStderr:       l.opts.Stderr,
		// go-plugin's own log is off: the host reports a plugin's exit
		// and start failures itself, as one line naming the plugin; the
		// plugin's stderr (a panic) still reaches Stderr above.
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:   "meshgym",
			Level:  hclog.Off,
			Output: l.opts.Stderr,
		}),
	})
	type result struct {
		cp  plugin.ClientProtocol
		err error
	}
	ch := make(chan result, 1)
	go func() {
		cp, err := pc.Client()
		ch <- result{cp, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() { <-ch; pc.Kill() }()
		return nil, &Error{Plugin: name, Code: CodeCanceled, Msg: "start: " + ctx.Err().Error()}
	}
	if r.err != nil {
		pc.Kill()
		if m := versionMismatch.FindStringSubmatch(r.err.Error()); m != nil {
			return nil, &Error{Plugin: name, Code: CodeUnsupported, Msg: fmt.Sprintf(
				"speaks plugin protocol version %s but this meshgym speaks version %d; use a build of the plugin made for protocol version %d",
				m[1], ProtocolVersion, ProtocolVersion)}
		}
		return nil, &Error{Plugin: name, Code: CodeUnavailable, Msg: fmt.Sprintf("start %s: %v", cmd.Path, r.err)}
	}
	raw, err := r.cp.Dispense(PluginKey)
	if err != nil {
		pc.Kill()
		return nil, &Error{Plugin: name, Code: CodeInternal, Msg: "dispense: " + err.Error()}
	}
	rm, ok := raw.(*remote)
	if !ok {
		pc.Kill()
		return nil, &Error{Plugin: name, Code: CodeInternal, Msg: fmt.Sprintf("dispense: unexpected %T", raw)}
	}
	if rc := pc.ReattachConfig(); rc != nil {
		rm.pid = rc.Pid
	}
	rm.exited = pc.Exited
	c := newClient(rm)
	c.pc = pc
	c.loader = l
	l.mu.Lock()
	if l.closed { // Close ran while this plugin was starting
		l.mu.Unlock()
		pc.Kill()
		return nil, &Error{Plugin: name, Code: CodeUnavailable, Msg: "plugin loader is closed"}
	}
	l.clients[c] = struct{}{}
	l.mu.Unlock()
	go c.watch()
	return c, nil
}

// Close kills every plugin process the loader started and still runs, and
// makes later Opens fail. It waits for the processes to exit.
func (l *Loader) Close() error {
	l.mu.Lock()
	l.closed = true
	cs := make([]*Client, 0, len(l.clients))
	for c := range l.clients {
		cs = append(cs, c)
	}
	l.mu.Unlock()
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (l *Loader) forget(c *Client) {
	l.mu.Lock()
	delete(l.clients, c)
	l.mu.Unlock()
}
