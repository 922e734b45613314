// Package meshinstall installs and removes a real mesh's Helm charts with
// the Helm Go SDK (helm.sh/helm/v3): pinned chart versions fetched from
// the mesh's chart repository at install time (and cached), installed
// into the cluster a sandbox.Cluster names. It also makes the
// certificates Linkerd's identity needs, in Go.
package meshinstall

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"

	"meshgym/sandbox"
)

// Chart is one pinned Helm chart of a mesh.
type Chart struct {
	// Repo is the chart repository URL ("https://istio-release.storage.googleapis.com/charts").
	Repo string
	// Name is the chart's name in the repository ("istiod").
	Name string
	// Version is the exact chart version ("1.27.3"); never a range.
	Version string
	// Release and Namespace name the Helm release ("istiod", "istio-system");
	// the namespace is created when missing.
	Release   string
	Namespace string
	// Values are the chart values meshgym sets.
	Values map[string]any
	// Timeout bounds the install including the wait for its workloads
	// (0 = 5 minutes).
	Timeout time.Duration
}

// DefaultTimeout bounds an install, upgrade or uninstall when
// Chart.Timeout is 0.
const DefaultTimeout = 5 * time.Minute

// Validate checks the fields Install and FetchChart need: Repo an
// absolute http(s) URL with a host, Name a plain chart name (no "/"),
// Version an exact semantic version (https://semver.org, as Helm's
// Chart.yaml requires: "1.27.3", "2025.10.1", "1.0.0-rc.1"; no "v" prefix
// and no range such as "^1.27" or "1.27.x"), Release a valid Helm release
// name and Namespace a DNS-1123 label. The error names the field and the
// chart ("chart istiod: version \"~1.27\" is not an exact semantic
// version …").
func (c Chart) Validate() error {
	if err := c.validateSource(); err != nil {
		return err
	}
	if err := chartutil.ValidateReleaseName(c.Release); err != nil {
		return fmt.Errorf("chart %s: release %q: %v", c.Name, c.Release, err)
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return fmt.Errorf("chart %s: namespace %q: %s", c.Name, c.Namespace, strings.Join(errs, "; "))
	}
	return nil
}

// validateSource checks Repo, Name and Version (what fetching needs).
func (c Chart) validateSource() error {
	name := c.Name
	if name == "" {
		return errors.New("chart: name is empty")
	}
	if strings.ContainsAny(name, "/\\ ") || name == "." || name == ".." {
		return fmt.Errorf("chart %q: name must be a plain chart name, as in the repository's index", name)
	}
	if c.Repo == "" {
		return fmt.Errorf("chart %s: repo is empty (want the chart repository's http(s) URL)", name)
	}
	u, err := url.Parse(c.Repo)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("chart %s: repo %q is not an http(s) URL of a chart repository", name, c.Repo)
	}
	if c.Version == "" {
		return fmt.Errorf("chart %s: version is empty (pin an exact version such as 1.27.3)", name)
	}
	if _, err := semver.StrictNewVersion(c.Version); err != nil {
		return fmt.Errorf("chart %s: version %q is not an exact semantic version (ranges and \"v\" prefixes are not allowed): %v", name, c.Version, err)
	}
	return nil
}

func (c Chart) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Installer installs charts into one cluster.
type Installer interface {
	// Install installs c, or upgrades a release of another chart version
	// to c; a deployed release of c's name and version is left alone
	// (cheap: meshgym calls it before every run). It waits for the
	// release's workloads. A failed install is rolled back (uninstalled)
	// before the error returns, so nothing half-installed stays.
	Install(ctx context.Context, c Chart) error
	// Uninstall removes the release; a release that does not exist is
	// not an error.
	Uninstall(ctx context.Context, release, namespace string) error
	// Installed reports the chart version of a deployed release ("" and
	// false when there is none).
	Installed(ctx context.Context, release, namespace string) (version string, ok bool, err error)
}

// Options tune an Installer.
type Options struct {
	// CacheDir keeps fetched chart archives ("" = <user cache dir>/meshgym/charts),
	// so a classroom fetches a chart once (and `meshgym images save`
	// can carry it).
	CacheDir string
	// Logf receives one-line progress notes ("fetching chart istiod 1.27.3 from …").
	Logf func(format string, args ...any)
}

// New returns an Installer for the cluster: Helm actions against the
// cluster's kubeconfig content and context (cl.Context, "" = the
// kubeconfig's current context), releases recorded with Helm's "secret"
// storage driver in the release's namespace (as the helm CLI does by
// default: https://helm.sh/docs/topics/advanced/#storage-backends), and
// Helm's own progress lines sent to opts.Logf prefixed "helm: ". New
// does not contact the cluster; it fails when the kubeconfig does not
// parse or lacks the context.
func New(cl sandbox.Cluster, opts Options) (Installer, error) {
	raw, err := clientcmd.Load([]byte(cl.Kubeconfig))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of cluster %s: %v", cl.Name, err)
	}
	ctxName := cl.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	if ctxName == "" {
		return nil, fmt.Errorf("kubeconfig of cluster %s: no context given and no current context", cl.Name)
	}
	kctx, ok := raw.Contexts[ctxName]
	if !ok {
		return nil, fmt.Errorf("kubeconfig of cluster %s: no context %q", cl.Name, ctxName)
	}
	if _, ok := raw.Clusters[kctx.Cluster]; !ok {
		return nil, fmt.Errorf("kubeconfig of cluster %s: context %q names cluster %q, which it does not define", cl.Name, ctxName, kctx.Cluster)
	}
	in := newInstaller(nil, opts)
	helmLog := in.helmLogger()
	in.configFor = func(namespace string) (*action.Configuration, error) {
		getter := newRESTClientGetter(*raw, ctxName, namespace)
		cfg := new(action.Configuration)
		if err := cfg.Init(getter, namespace, "secret", helmLog); err != nil {
			return nil, err
		}
		if kc, ok := cfg.KubeClient.(*kube.Client); ok {
			kc.Namespace = namespace
		}
		return cfg, nil
	}
	return in, nil
}

// installer is the Installer: one Helm action.Configuration per release
// namespace (Helm binds the release storage to a namespace), made by
// configFor on first use.
type installer struct {
	cacheDir  string
	logf      func(format string, args ...any)
	configFor func(namespace string) (*action.Configuration, error)

	mu      sync.Mutex // serializes operations (Helm actions share cfg state)
	configs map[string]*action.Configuration

	logMu   sync.Mutex
	lastLog string
}

// newInstaller is the constructor tests use: configFor returns the Helm
// configuration of a namespace (in tests: a kube fake client and memory
// storage set to that namespace).
func newInstaller(configFor func(namespace string) (*action.Configuration, error), opts Options) *installer {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &installer{
		cacheDir:  opts.CacheDir,
		logf:      logf,
		configFor: configFor,
		configs:   map[string]*action.Configuration{},
	}
}

// helmLogger passes Helm's debug lines to Logf, one line each, dropping a
// line equal to the one before (Helm repeats "Deployment is not ready …"
// every poll).
func (in *installer) helmLogger() action.DebugLog {
	return func(format string, args ...any) {
		line := oneLine(fmt.Sprintf(format, args...))
		in.logMu.Lock()
		dup := line == in.lastLog
		in.lastLog = line
		in.logMu.Unlock()
		if !dup {
			in.logf("helm: %s", line)
		}
	}
}

func (in *installer) config(namespace string) (*action.Configuration, error) {
	if cfg, ok := in.configs[namespace]; ok {
		return cfg, nil
	}
	cfg, err := in.configFor(namespace)
	if err != nil {
		return nil, fmt.Errorf("helm configuration for namespace %s: %w", namespace, oneLineError{err})
	}
	if cfg.Log == nil {
		cfg.Log = in.helmLogger()
	}
	in.configs[namespace] = cfg
	return cfg, nil
}

// releaseState is the last revision of a release and its deployed
// revision (either nil when absent).
type releaseState struct {
	last, deployed *release.Release
}

func (in *installer) state(cfg *action.Configuration, name string) (releaseState, error) {
	var st releaseState
	last, err := action.NewStatus(cfg).Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.last = last
	if last.Info != nil && last.Info.Status == release.StatusDeployed {
		st.deployed = last
		return st, nil
	}
	dep, err := cfg.Releases.Deployed(name)
	switch {
	case err == nil:
		st.deployed = dep
	case errors.Is(err, driver.ErrNoDeployedReleases), errors.Is(err, driver.ErrReleaseNotFound):
	default:
		return st, err
	}
	return st, nil
}

func chartVersion(r *release.Release) string {
	if r == nil || r.Chart == nil || r.Chart.Metadata == nil {
		return ""
	}
	return r.Chart.Metadata.Version
}

func statusOf(r *release.Release) release.Status {
	if r == nil || r.Info == nil {
		return release.StatusUnknown
	}
	return r.Info.Status
}

// Installed reports the chart version of the release's deployed revision
// (action.Status; Helm's "release: not found" is "", false, nil). Errors
// read "read release NAME in NS: …".
func (in *installer) Installed(ctx context.Context, name, namespace string) (string, bool, error) {
	if err := validateRelease(name, namespace); err != nil {
		return "", false, err
	}
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	cfg, err := in.config(namespace)
	if err != nil {
		return "", false, err
	}
	st, err := in.state(cfg, name)
	if err != nil {
		return "", false, fmt.Errorf("read release %s in %s: %w", name, namespace, oneLineError{err})
	}
	if st.deployed == nil {
		return "", false, nil
	}
	return chartVersion(st.deployed), true, nil
}

// Install implements Installer.Install: validate c, no-op when deployed
// at c.Version, else fetch the chart (cache first) and run Helm's install
// (or upgrade) with CreateNamespace, Wait and Atomic. A release left in a
// state Helm cannot upgrade from (pending-install from an interrupted
// run, failed with no deployed revision, uninstalling) is removed first.
// A release with an operation in progress (pending-upgrade,
// pending-rollback) is an error: another meshgym may be changing it.
func (in *installer) Install(ctx context.Context, c Chart) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("install %s %s into %s: %w", c.Name, c.Version, c.Namespace, err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	cfg, err := in.config(c.Namespace)
	if err != nil {
		return fmt.Errorf("install %s %s into %s: %w", c.Name, c.Version, c.Namespace, err)
	}
	st, err := in.state(cfg, c.Release)
	if err != nil {
		return fmt.Errorf("install %s %s into %s: read release %s: %w", c.Name, c.Version, c.Namespace, c.Release, oneLineError{err})
	}
	if st.last != nil && statusOf(st.last) == release.StatusDeployed && chartVersion(st.last) == c.Version {
		in.logf("%s %s already installed in %s (release %s, revision %d)", c.Name, c.Version, c.Namespace, c.Release, st.last.Version)
		return nil
	}
	switch s := statusOf(st.last); {
	case st.last == nil:
	case s == release.StatusPendingUpgrade || s == release.StatusPendingRollback:
		return fmt.Errorf("install %s %s into %s: release %s is %s (another meshgym or helm may be changing it; if none is, uninstall it or delete the cluster)", c.Name, c.Version, c.Namespace, c.Release, s)
	case st.deployed == nil:
		in.logf("release %s in %s is %s with no deployed revision (left by an interrupted install); removing it first", c.Release, c.Namespace, s)
		if err := in.uninstall(cfg, c.Release, c.timeout()); err != nil {
			return fmt.Errorf("install %s %s into %s: remove the %s release %s: %w", c.Name, c.Version, c.Namespace, s, c.Release, oneLineError{err})
		}
		st = releaseState{}
	}

	_, ch, err := fetchChart(ctx, c, in.cacheDir, in.logf)
	if err != nil {
		return err
	}
	timeout := c.timeout()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Second)
	}
	vals := copyValues(c.Values)

	if st.last == nil {
		in.logf("installing %s %s into %s (release %s, timeout %s)", c.Name, c.Version, c.Namespace, c.Release, timeout)
		act := action.NewInstall(cfg)
		act.ReleaseName = c.Release
		act.Namespace = c.Namespace
		act.CreateNamespace = true
		act.Wait = true
		act.Atomic = true
		act.Timeout = timeout
		act.Description = "installed by meshgym"
		if _, err := act.RunWithContext(ctx, ch, vals); err != nil {
			return fmt.Errorf("install %s %s into %s: %w", c.Name, c.Version, c.Namespace, oneLineError{err})
		}
		in.logf("installed %s %s into %s", c.Name, c.Version, c.Namespace)
		return nil
	}

	from := chartVersion(st.deployed)
	in.logf("upgrading %s %s to %s in %s (release %s, timeout %s)", c.Name, from, c.Version, c.Namespace, c.Release, timeout)
	act := action.NewUpgrade(cfg)
	act.Namespace = c.Namespace
	act.Wait = true
	act.Atomic = true
	act.CleanupOnFail = true
	act.ResetValues = true
	act.MaxHistory = 10
	act.Timeout = timeout
	act.Description = "upgraded by meshgym"
	if _, err := act.RunWithContext(ctx, c.Release, ch, vals); err != nil {
		return fmt.Errorf("upgrade %s %s to %s in %s: %w", c.Name, from, c.Version, c.Namespace, oneLineError{err})
	}
	in.logf("upgraded %s to %s in %s", c.Name, c.Version, c.Namespace)
	return nil
}

// Uninstall implements Installer.Uninstall with action.Uninstall (Wait,
// DefaultTimeout or less when ctx has an earlier deadline, no history
// kept). Errors read "uninstall NAME from NS: …".
func (in *installer) Uninstall(ctx context.Context, name, namespace string) error {
	if err := validateRelease(name, namespace); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("uninstall %s from %s: %w", name, namespace, err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	cfg, err := in.config(namespace)
	if err != nil {
		return fmt.Errorf("uninstall %s from %s: %w", name, namespace, err)
	}
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Second)
	}
	if err := in.uninstall(cfg, name, timeout); err != nil {
		return fmt.Errorf("uninstall %s from %s: %w", name, namespace, oneLineError{err})
	}
	return nil
}

func (in *installer) uninstall(cfg *action.Configuration, name string, timeout time.Duration) error {
	act := action.NewUninstall(cfg)
	act.IgnoreNotFound = true
	act.Wait = true
	act.Timeout = timeout
	res, err := act.Run(name)
	if err != nil {
		return err
	}
	if res != nil && res.Release != nil {
		in.logf("uninstalled release %s from %s", name, res.Release.Namespace)
	}
	return nil
}

func validateRelease(name, namespace string) error {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return fmt.Errorf("release %q: %v", name, err)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return fmt.Errorf("release %s: namespace %q: %s", name, namespace, strings.Join(errs, "; "))
	}
	return nil
}

// copyValues deep-copies the maps and slices of a values tree, so Helm
// (which merges into the map it is given) never changes the caller's.
func copyValues(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = copyValue(x)
	}
	return out
}

func copyValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return copyValues(t)
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = copyValue(e)
		}
		return s
	default:
		return x
	}
}

// oneLineError shows an error on one line (Helm's and the API server's
// errors can span several) and keeps it for errors.Is / errors.As.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return oneLine(e.err.Error()) }
func (e oneLineError) Unwrap() error { return e.err }

func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
