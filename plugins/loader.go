package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
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
	// Stderr, when set, receives everything the plugin processes print
	// (stderr, and stdout other than the handshake line), one line at a
	// time prefixed "[plugin NAME] " — a run's log file, say. nil (the
	// CLI's choice for the terminal) drops it. Either way the loader keeps
	// the last 8 KB of each plugin's output and puts its telling line (the
	// first "panic:" line, else the last non-empty one) into start errors
	// and Client.Died errors. go-plugin's own log is always off.
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

	mu       sync.Mutex
	clients  map[*Client]struct{}
	starting map[*context.CancelCauseFunc]struct{} // starts in flight
	closed   bool
	// cleanups counts the starts in flight and the kills of canceled
	// starts, for Close to wait for.
	cleanups sync.WaitGroup
}

// NewLoader returns a Loader; nothing is started or read until Find or
// Open.
func NewLoader(opts LoaderOptions) *Loader {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	return &Loader{opts: opts, clients: map[*Client]struct{}{}, starting: map[*context.CancelCauseFunc]struct{}{}}
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
// directory's executable otherwise, started in a process group of its own
// (Unix) so that killing it kills whatever it started. Errors are *Error:
// CodeInvalid for an unknown name (the message lists the available
// plugins), CodeUnsupported for a plugin speaking another protocol version
// (the message names both), CodeCanceled when ctx ends (is canceled or
// reaches its deadline) first — Open returns at once then —, and
// CodeUnavailable when the loader is closed or the process cannot be
// started or does not complete the handshake within StartTimeout: one
// line saying that it exited with status N before the handshake, printed
// something else, or did not answer in time, with the telling line of its
// output. Open returns within StartTimeout plus about 2 s, whatever the
// plugin does; a failed or canceled start leaves no process behind.
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
	var args []string
	if f.Builtin {
		args = []string{"plugin", "serve", name}
	}
	return l.start(ctx, name, f.Path, args...)
}

// killWait bounds how long killing a plugin waits for go-plugin's own
// cleanup (its Kill waits for the plugin's stdout and stderr to close).
const killWait = 2 * time.Second

// exitWait bounds how long a failed start waits for the process's exit
// status.
const exitWait = time.Second

// errLoaderClosed ends the starts in flight when Loader.Close runs.
var errLoaderClosed = errors.New("plugin loader is closed")

var (
	// apiVersionMismatch is go-plugin's error for another ProtocolVersion.
	apiVersionMismatch = regexp.MustCompile(`incompatible API version with plugin\. Plugin version: (\d+)`)
	// coreVersionMismatch is go-plugin's error for another go-plugin core
	// protocol (the first field of the handshake line).
	coreVersionMismatch = regexp.MustCompile(`incompatible core API version with plugin\. Plugin version: (\S+), Core version: (\d+)`)
)

// proc is one plugin process the loader started.
type proc struct {
	pc *plugin.Client
	// cancel ends the exec.Cmd's context; its Cancel kills the process
	// group while nobody has waited for the process yet.
	cancel context.CancelFunc
	tail   *outputTail
	// pid is the process (and process group) ID; 0 until the start
	// returned. Written once, before kill or the Client can read it.
	pid  int
	once sync.Once
}

// kill ends the plugin and everything it started: SIGKILL to its process
// group first (on Unix), then go-plugin's Kill, waited for at most
// killWait (it can block for ever on a pipe a stray child keeps open).
// Only the first call does anything; later ones return at once.
func (p *proc) kill() {
	p.once.Do(func() {
		killProcessGroup(p.pid)
		p.cancel()
		done := make(chan struct{})
		go func() {
			p.pc.Kill()
			close(done)
		}()
		t := time.NewTimer(killWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		}
	})
}

// exitedWithin polls go-plugin's Exited (true once the process was waited
// for and its stdout and stderr closed) for up to d.
func (p *proc) exitedWithin(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !p.pc.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func (l *Loader) start(ctx context.Context, name, path string, args ...string) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Plugin: name, Code: CodeCanceled, Msg: "start: " + err.Error()}
	}
	startCtx, stopStart := context.WithCancelCause(ctx)
	defer stopStart(nil)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, &Error{Plugin: name, Code: CodeUnavailable, Msg: errLoaderClosed.Error()}
	}
	reg := &stopStart
	l.starting[reg] = struct{}{}
	l.cleanups.Add(1)
	l.mu.Unlock()
	cleanupInBackground := false
	defer func() {
		l.mu.Lock()
		delete(l.starting, reg)
		l.mu.Unlock()
		if !cleanupInBackground {
			l.cleanups.Done()
		}
	}()

	// The process outlives Open: its context is the loader's, ended by
	// proc.kill. exec runs Cancel (in its own goroutine, once the process
	// has started) when procCtx ends before the process was waited for.
	procCtx, procCancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(procCtx, path, args...)
	ownProcessGroup(cmd)
	cmd.Cancel = func() error {
		killProcessGroup(cmd.Process.Pid)
		return cmd.Process.Kill()
	}
	tail := newOutputTail(name, l.opts.Stderr)
	p := &proc{cancel: procCancel, tail: tail}
	p.pc = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{PluginKey: &GRPCPlugin{Name: name}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Managed:          false,
		StartTimeout:     l.opts.StartTimeout,
		// Everything the plugin prints goes to its tail (and on to
		// LoaderOptions.Stderr), never to the host's stdout or stderr:
		// Stderr is its stderr, SyncStdout and SyncStderr what a Go
		// plugin writes to os.Stdout and os.Stderr after the handshake.
		// Other stdout lines after the handshake are read and dropped by
		// go-plugin.
		Stderr:     tail.stream("stderr"),
		SyncStdout: tail.stream("stdout"),
		SyncStderr: tail.stream("stderr (synced)"),
		// go-plugin's own log is off: the host reports a plugin's exit
		// and start failures itself, as one line naming the plugin.
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:   "meshgym",
			Level:  hclog.Off,
			Output: io.Discard,
		}),
	})
	type result struct {
		cp  plugin.ClientProtocol
		err error
	}
	ch := make(chan result, 1)
	go func() {
		cp, err := p.pc.Client()
		ch <- result{cp, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-startCtx.Done():
		procCancel() // kills the process group if the process started
		cleanupInBackground = true
		go func() {
			defer l.cleanups.Done()
			<-ch // go-plugin's start ends soon: the process is gone
			p.pid = pidOf(cmd)
			p.kill()
		}()
		if errors.Is(context.Cause(startCtx), errLoaderClosed) {
			return nil, &Error{Plugin: name, Code: CodeUnavailable, Msg: errLoaderClosed.Error()}
		}
		return nil, &Error{Plugin: name, Code: CodeCanceled, Msg: "start canceled: " + ctx.Err().Error()}
	}
	p.pid = pidOf(cmd) // cmd.Start ran in the goroutine that sent r
	if r.err != nil {
		code, msg := l.startFailure(p, cmd, r.err)
		p.kill()
		return nil, &Error{Plugin: name, Code: code, Msg: msg}
	}
	raw, err := r.cp.Dispense(PluginKey)
	if err != nil {
		p.kill()
		return nil, &Error{Plugin: name, Code: CodeInternal, Msg: "dispense: " + err.Error()}
	}
	rm, ok := raw.(*remote)
	if !ok {
		p.kill()
		return nil, &Error{Plugin: name, Code: CodeInternal, Msg: fmt.Sprintf("dispense: unexpected %T", raw)}
	}
	rm.pid = p.pid
	rm.exited = p.pc.Exited
	c := newClient(rm)
	c.proc = p
	c.loader = l
	l.mu.Lock()
	if l.closed { // Close ran while this plugin was starting
		l.mu.Unlock()
		p.kill()
		return nil, &Error{Plugin: name, Code: CodeUnavailable, Msg: errLoaderClosed.Error()}
	}
	l.clients[c] = struct{}{}
	l.mu.Unlock()
	go c.watch()
	return c, nil
}

// pidOf is the started process's ID, 0 if it did not start.
func pidOf(cmd *exec.Cmd) int {
	if cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}

// startFailure turns go-plugin's start error into a code and a one-line
// message: the exit status and the telling line of the plugin's output
// when it exited before the handshake, the line it printed instead of the
// handshake, the StartTimeout it overran, or both protocol versions.
func (l *Loader) startFailure(p *proc, cmd *exec.Cmd, err error) (Code, string) {
	text := err.Error()
	if m := apiVersionMismatch.FindStringSubmatch(text); m != nil {
		return CodeUnsupported, fmt.Sprintf(
			"speaks plugin protocol version %s but this meshgym speaks version %d; use a build of the plugin made for protocol version %d",
			m[1], ProtocolVersion, ProtocolVersion)
	}
	if m := coreVersionMismatch.FindStringSubmatch(text); m != nil {
		return CodeUnsupported, fmt.Sprintf(
			"speaks go-plugin core protocol version %s but this meshgym speaks version %s; rebuild the plugin with a current github.com/hashicorp/go-plugin",
			m[1], m[2])
	}
	const unrecognized = "Unrecognized remote plugin message: "
	switch {
	case strings.Contains(text, "timeout while waiting for plugin to start"):
		return CodeUnavailable, withLine(fmt.Sprintf("plugin did not complete the handshake within %s", l.opts.StartTimeout), p.tail.summary())
	case strings.Contains(text, "Failed to read any lines from plugin's stdout"),
		strings.Contains(text, "plugin exited before we could connect"):
		// The process closed its stdout without a line: it exited, or
		// is about to.
		if !p.exitedWithin(exitWait) {
			return CodeUnavailable, withLine("plugin closed its stdout without printing the handshake line; it is not a meshgym plugin", p.tail.summary())
		}
		// Exited is true: go-plugin's Wait returned and set ProcessState
		// before taking the lock Exited takes.
		return CodeUnavailable, withLine(exitText(cmd.ProcessState), p.tail.summary())
	case strings.HasPrefix(text, unrecognized):
		line, _, _ := strings.Cut(strings.TrimPrefix(text, unrecognized), "\n")
		if line == "" {
			return CodeUnavailable, "plugin printed an empty line instead of the handshake line; it is not a meshgym plugin"
		}
		return CodeUnavailable, fmt.Sprintf("plugin printed %q instead of the handshake line; it is not a meshgym plugin", truncate(line, 60))
	}
	first, _, _ := strings.Cut(text, "\n")
	return CodeUnavailable, withLine("start: "+truncate(first, 200), p.tail.summary())
}

// withLine appends the plugin's telling output line, if any.
func withLine(msg, line string) string {
	if line == "" {
		return msg
	}
	return msg + ": " + line
}

// exitText says how a process that exited before the handshake ended.
func exitText(ps *os.ProcessState) string {
	const why = " before the handshake (not a meshgym plugin, or it failed at start)"
	if ps == nil {
		return "plugin exited" + why
	}
	if code := ps.ExitCode(); code >= 0 {
		return fmt.Sprintf("plugin exited with status %d%s", code, why)
	}
	return "plugin ended (" + ps.String() + ")" + why
}

// truncate cuts s to at most n runes, marking a cut with "…".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// Close kills every plugin process the loader started and still runs (and
// their process groups: whatever they started), ends the starts in flight
// (their Open returns CodeUnavailable "plugin loader is closed") and makes
// later Opens fail. It returns once the processes are killed; it waits for
// go-plugin's cleanup at most about 2 s in all, never for ever.
func (l *Loader) Close() error {
	l.mu.Lock()
	l.closed = true
	cs := make([]*Client, 0, len(l.clients))
	for c := range l.clients {
		cs = append(cs, c)
	}
	for stop := range l.starting {
		(*stop)(errLoaderClosed)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { _ = c.Close() })
	}
	wg.Go(func() {
		done := make(chan struct{})
		go func() {
			l.cleanups.Wait()
			close(done)
		}()
		t := time.NewTimer(killWait + 500*time.Millisecond)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		}
	})
	wg.Wait()
	return nil
}

func (l *Loader) forget(c *Client) {
	l.mu.Lock()
	delete(l.clients, c)
	l.mu.Unlock()
}

const (
	// tailBytes bounds the output a loader keeps per plugin.
	tailBytes = 8 << 10
	// tailLineBytes bounds one kept line; the rest of a longer line is
	// dropped.
	tailLineBytes = 1 << 10
	// tellingLineRunes bounds the line quoted in an error.
	tellingLineRunes = 200
)

// outputTail keeps the last tailBytes of one plugin's output as lines and
// copies each line to out (when set) as "[plugin NAME] line". Its streams
// (stderr, synced stdout …) assemble lines separately, so that chunks
// written concurrently do not mix within a line.
type outputTail struct {
	name string
	out  io.Writer // nil: keep only

	mu      sync.Mutex
	lines   []string
	size    int
	panicAt string // the first "panic:" or "fatal error:" line seen
	partial map[string]*[]byte
}

func newOutputTail(name string, out io.Writer) *outputTail {
	return &outputTail{name: name, out: out, partial: map[string]*[]byte{}}
}

// stream returns a writer for one of the plugin's output streams.
func (t *outputTail) stream(key string) io.Writer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.partial[key]; !ok {
		t.partial[key] = new([]byte)
	}
	return tailStream{t, key}
}

type tailStream struct {
	t   *outputTail
	key string
}

// Write never fails: a plugin's output must not stall go-plugin.
func (s tailStream) Write(p []byte) (int, error) {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := t.partial[s.key]
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			*buf = appendCapped(*buf, rest)
			break
		}
		*buf = appendCapped(*buf, rest[:i])
		t.addLine(strings.TrimSuffix(string(*buf), "\r"))
		*buf = (*buf)[:0]
		rest = rest[i+1:]
	}
	return len(p), nil
}

func appendCapped(b, p []byte) []byte {
	if room := tailLineBytes - len(b); len(p) > room {
		p = p[:max(room, 0)]
	}
	return append(b, p...)
}

// addLine keeps line and copies it to out; t.mu is held.
func (t *outputTail) addLine(line string) {
	if t.out != nil {
		_, _ = fmt.Fprintf(t.out, "[plugin %s] %s\n", t.name, line)
	}
	if t.panicAt == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
		t.panicAt = line
	}
	t.lines = append(t.lines, line)
	t.size += len(line) + 1
	drop := 0
	for t.size > tailBytes && drop < len(t.lines)-1 {
		t.size -= len(t.lines[drop]) + 1
		drop++
	}
	t.lines = slices.Delete(t.lines, 0, drop)
}

// summary is the telling line of the output, on one line and at most
// about 200 characters: the first line starting with "panic: " or "fatal
// error: " (a Go panic or runtime crash), else the last non-empty line,
// counting a last line without its newline; "" when there is none.
func (t *outputTail) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	line := t.panicAt
	if line == "" {
		keys := slices.Sorted(maps.Keys(t.partial))
		for _, k := range keys {
			if p := strings.TrimSpace(string(*t.partial[k])); p != "" {
				line = p
			}
		}
	}
	for i := len(t.lines) - 1; line == "" && i >= 0; i-- {
		line = strings.TrimSpace(t.lines[i])
	}
	line = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, line)
	return truncate(strings.TrimSpace(line), tellingLineRunes)
}

// String is the output kept, one line each.
func (t *outputTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
