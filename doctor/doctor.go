// Package doctor checks whether meshgym's platforms can run on this
// machine and says what to do about each that cannot: the local platform
// (lean executables, port 8200, starting a child process), Docker (the
// daemon, privileges and cgroups, a probe network and container, the
// address of published ports, meshgym's images), kind, and the mesh
// plugins found. Every check is bounded in time, and whatever a check
// creates (a probe container, a network) is removed before Run returns,
// also when its context is canceled (Ctrl-C).
//
// The package knows nothing of the CLI: cmd/meshgym builds the Options,
// calls Run and prints the Report with Text or JSON. Docker is reached
// through the small Docker interface, so the check logic is tested with
// fakes.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"meshgym/plugins"
	"meshgym/sandbox/local"
)

// Status is the outcome of one check.
type Status string

// Check outcomes.
const (
	// StatusOK: works as meshgym needs it.
	StatusOK Status = "ok"
	// StatusWarn: works with a limit, or is not set up yet (Fix says how).
	StatusWarn Status = "warn"
	// StatusFail: does not work here; the platform is not usable.
	StatusFail Status = "fail"
)

// Mark is the one-character mark printed before a check: ✓, ! or ✗.
func (s Status) Mark() string {
	switch s {
	case StatusOK:
		return "✓"
	case StatusWarn:
		return "!"
	default:
		return "✗"
	}
}

// Platform names as the CLI spells them (--platform), and the group of the
// plugin checks.
const (
	PlatformLocal  = "local"
	PlatformDocker = "docker"
	PlatformKind   = "kind"
	GroupPlugins   = "plugins"
)

// Check is the result of one check.
type Check struct {
	// Group is the platform the check is about (local, docker, kind) or
	// "plugins".
	Group string `json:"group"`
	// Name is short and stable: "daemon", "port 8200", "images".
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail is one line: what was found.
	Detail string `json:"detail"`
	// Fix is one line saying what to do; set whenever Status is not ok.
	Fix string `json:"fix,omitempty"`
}

// Platform says whether a platform is usable here.
type Platform struct {
	Name   string `json:"name"`
	Usable bool   `json:"usable"`
	// Note qualifies the verdict, e.g. "images are built on the first run".
	Note string `json:"note,omitempty"`
}

// Report is everything Run found, in a stable order: the local checks,
// Docker's, kind's, then the plugins'.
type Report struct {
	Checks    []Check    `json:"checks"`
	Platforms []Platform `json:"platforms"`
	// Usable names the usable platforms, local first.
	Usable []string `json:"usable"`
	// ExitCode is what `meshgym doctor` exits with: 0 when at least one
	// platform is usable, 3 when none is (ExitNoPlatform).
	ExitCode int `json:"exit_code"`
	// Interrupted is set when Run's context was canceled before every
	// check finished; the checks not done are missing.
	Interrupted bool `json:"interrupted,omitempty"`
}

// ExitNoPlatform is the exit code when no platform is usable here (the
// CLI's "platform failed" code).
const ExitNoPlatform = 3

// PluginFinder lists the mesh plugins; *plugins.Loader implements it.
type PluginFinder interface {
	Find() ([]plugins.Found, error)
	Dir() (string, error)
}

// Options are what Run checks. Zero values choose the defaults noted.
type Options struct {
	// Executables are the components the local platform would start; zero
	// resolves them with local.ResolveExecutables.
	Executables local.Executables
	// EntryPort is the port checked for being free; 0 means
	// local.DefaultEntryPort (8200).
	EntryPort int
	// Docker is the client for the daemon; nil with DockerErr set when no
	// client could be made (e.g. a malformed DOCKER_HOST). Both nil skips
	// the Docker and kind checks (reported as not checked).
	Docker    Docker
	DockerErr error
	// AppImage and SidecarImage are meshgym's image references
	// (sandbox/docker/images.Refs); the probe container runs AppImage.
	AppImage, SidecarImage string
	// KindClusters lists the kind clusters meshgym created; nil reads the
	// default registry (sandbox/kind.NewKindClusters).
	KindClusters KindLister
	// Plugins lists the mesh plugins; nil leaves out the plugin check.
	Plugins PluginFinder
	// Getenv reads the environment (TESTCONTAINERS_HOST_OVERRIDE,
	// DOCKER_HOST); nil is os.Getenv.
	Getenv func(string) string
	// Timeout bounds the whole run; 0 means DefaultTimeout. Cleanup of
	// probe resources gets CleanupTimeout beyond it.
	Timeout time.Duration
}

// Timeouts. Each step has its own bound within the whole run's.
const (
	// DefaultTimeout bounds a whole Run (all checks; local and Docker run
	// side by side).
	DefaultTimeout = 9 * time.Second
	// PingTimeout bounds reaching the Docker daemon (and each other single
	// API call).
	PingTimeout = 2 * time.Second
	// ProbeTimeout bounds the probe container: create, start, running with
	// its port published, answering HTTP.
	ProbeTimeout = 5 * time.Second
	// ChildTimeout bounds the local child process's start (its READY line).
	ChildTimeout = 3 * time.Second
	// CreateTimeout bounds creating the probe network, and creating and
	// starting the probe container. A create runs to its end even after
	// Ctrl-C, so that nothing appears after the doctor stopped looking.
	CreateTimeout = 5 * time.Second
	// CleanupTimeout bounds removing the probe container and network,
	// which runs even after the context was canceled.
	CleanupTimeout = 5 * time.Second
)

// Run performs every check and returns the report. It never returns an
// error: what fails is a check. Canceling ctx stops the checks early
// (Report.Interrupted) after removing whatever they created.
func Run(ctx context.Context, o Options) Report {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.EntryPort == 0 {
		o.EntryPort = local.DefaultEntryPort
	}
	if len(o.Executables.App) == 0 || len(o.Executables.Sidecar) == 0 {
		o.Executables = local.ResolveExecutables()
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	var (
		wg                     sync.WaitGroup
		localChecks            []Check
		dockerChecks, kindChks []Check
		dockerUse              Platform
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		localChecks = checkLocal(runCtx, o)
	}()
	go func() {
		defer wg.Done()
		dockerChecks, dockerUse, kindChks = checkDocker(runCtx, o)
	}()
	wg.Wait()

	var r Report
	r.Checks = append(r.Checks, localChecks...)
	r.Checks = append(r.Checks, dockerChecks...)
	r.Checks = append(r.Checks, kindChks...)
	if o.Plugins != nil {
		r.Checks = append(r.Checks, checkPlugins(o.Plugins))
	}
	r.Platforms = []Platform{
		platformFrom(PlatformLocal, localChecks),
		dockerUse,
		kindPlatform(kindChks, dockerUse),
	}
	r.Usable = []string{}
	for _, p := range r.Platforms {
		if p.Usable {
			r.Usable = append(r.Usable, p.Name)
		}
	}
	r.Interrupted = ctx.Err() != nil
	if len(r.Usable) == 0 {
		r.ExitCode = ExitNoPlatform
	}
	return r
}

// kindPlatform is usable when the Docker platform is (kind runs its nodes
// as Docker containers: a daemon that cannot start a container cannot run
// kind either), no kind check failed, and the node image is here or a
// meshgym cluster exists already; a missing node image is a warning with
// a note (`meshgym up --pull` or `meshgym images load` brings it).
func kindPlatform(checks []Check, docker Platform) Platform {
	p := platformFrom(PlatformKind, checks)
	switch {
	case len(checks) > 0 && checks[0].Status != StatusOK:
		p.Usable = false
		if p.Note == "" {
			p.Note = checks[0].Name + ": " + checks[0].Detail
		}
		return p
	case !docker.Usable:
		p.Usable = false
		p.Note = "needs the Docker platform"
		if docker.Note != "" {
			p.Note += " (" + docker.Note + ")"
		}
		return p
	}
	// Without the node image kind cannot make a cluster, so kind is usable
	// only where a meshgym cluster already exists.
	image, clusters := true, false
	for _, c := range checks {
		switch {
		case c.Name == "node image" && c.Status != StatusOK:
			image = false
		case c.Name == "clusters" && c.Status == StatusOK && !strings.HasPrefix(c.Detail, "none"):
			clusters = true
		}
	}
	if !image {
		p.Note = "the node image is missing: 'meshgym up --platform kind --mesh istio --pull' pulls it (internet), or 'meshgym images load FILE'"
		p.Usable = clusters
	}
	return p
}

// platformFrom is usable when none of its checks failed.
func platformFrom(name string, checks []Check) Platform {
	p := Platform{Name: name, Usable: len(checks) > 0}
	for _, c := range checks {
		if c.Status == StatusFail {
			p.Usable = false
			p.Note = c.Name + ": " + c.Detail
			break
		}
	}
	return p
}

// checkPlugins lists the plugins found and the plugin directory.
func checkPlugins(f PluginFinder) Check {
	c := Check{Group: GroupPlugins, Name: "mesh plugins", Status: StatusOK}
	dir, dirErr := f.Dir()
	found, err := f.Find()
	var names []string
	for _, p := range found {
		if p.Builtin {
			names = append(names, p.Name+" (built in)")
		} else {
			names = append(names, p.Name+" ("+p.Path+")")
		}
	}
	list := "none"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	switch {
	case dirErr != nil:
		c.Status = StatusWarn
		c.Detail = list + "; no plugin directory: " + oneLine(dirErr.Error())
		c.Fix = "set " + plugins.PluginDirEnv + " to a directory for meshgym-plugin-NAME executables"
	case err != nil:
		c.Status = StatusWarn
		c.Detail = list + "; plugin directory " + dir + ": " + oneLine(err.Error())
		c.Fix = "make " + dir + " readable, or point " + plugins.PluginDirEnv + " at another directory"
	default:
		c.Detail = list + "; plugin directory " + dir
	}
	return c
}

// Text writes the report for people: per group one line per check with
// its mark, a "fix:" line under each check that is not ok, then the
// usable platforms.
func Text(w io.Writer, r Report) error {
	ew := &errWriter{w: w}
	group := ""
	for _, c := range r.Checks {
		if c.Group != group {
			if group != "" {
				fmt.Fprintln(ew)
			}
			group = c.Group
			fmt.Fprintln(ew, group)
		}
		fmt.Fprintf(ew, "  %s %s: %s\n", c.Status.Mark(), c.Name, c.Detail)
		if c.Status != StatusOK && c.Fix != "" {
			fmt.Fprintf(ew, "      fix: %s\n", c.Fix)
		}
	}
	fmt.Fprintln(ew)
	if r.Interrupted {
		fmt.Fprintln(ew, "interrupted: some checks did not run")
	}
	usable := "none"
	if len(r.Usable) > 0 {
		usable = strings.Join(r.Usable, ", ")
	}
	fmt.Fprintf(ew, "usable platforms here: %s\n", usable)
	for _, p := range r.Platforms {
		if p.Usable && p.Note != "" {
			fmt.Fprintf(ew, "  %s: %s\n", p.Name, p.Note)
		}
	}
	return ew.err
}

// JSON writes the report as one indented JSON object (the Report fields).
func JSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
