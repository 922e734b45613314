package meshinstall

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/repo"
)

// DefaultCacheDir is the chart cache when Options.CacheDir is "":
// <user cache dir>/meshgym/charts (os.UserCacheDir: $XDG_CACHE_HOME or
// ~/.cache on Linux, ~/Library/Caches on macOS, %LocalAppData% on
// Windows).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("chart cache: %v (set a cache directory)", err)
	}
	return filepath.Join(d, "meshgym", "charts"), nil
}

// ChartCachePath is where the archive of c is kept in cacheDir:
// <cacheDir>/<repo host>/<name>-<version>.tgz. The host keeps its port,
// with ":" written as "_" so the path is valid on every OS
// ("charts/127.0.0.1_8080/demo-0.1.0.tgz"). `meshgym images load` puts
// carried charts at this path. c.Repo must be a valid URL (Chart.Validate).
func ChartCachePath(cacheDir string, c Chart) string {
	host := c.Repo
	if u, err := url.Parse(c.Repo); err == nil && u.Host != "" {
		host = u.Host
	}
	host = strings.NewReplacer(":", "_", "/", "_", "\\", "_").Replace(host)
	return filepath.Join(cacheDir, host, c.Name+"-"+c.Version+".tgz")
}

// FetchChart makes sure the archive of chart c (c.Repo, c.Name and
// c.Version must be valid; Release and Namespace are not used) is in
// cacheDir ("" = DefaultCacheDir) and returns its path (ChartCachePath).
// A cached archive is used when it loads as chart c.Name at c.Version;
// otherwise the repository's index.yaml is read (Helm's pkg/repo and
// pkg/getter, over a transport whose connections close when ctx ends),
// the exact version looked up (no range matching), the archive
// downloaded, checked against the index's sha256 digest when the index
// has one, checked to load, and written atomically (temporary file,
// rename). Errors are one line naming the chart and the repository
// ("fetch chart istiod 1.99.0 from https://…: version 1.99.0 is not in
// the repository's index (newest: 1.27.3, …)"); an unreachable
// repository says the chart is not in the cache and how to carry charts
// to an offline machine.
func FetchChart(ctx context.Context, c Chart, cacheDir string) (path string, err error) {
	path, _, err = fetchChart(ctx, c, cacheDir, nil)
	return path, err
}

func fetchChart(ctx context.Context, c Chart, cacheDir string, logf func(string, ...any)) (string, *chart.Chart, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := c.validateSource(); err != nil {
		return "", nil, err
	}
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return "", nil, fmt.Errorf("fetch chart %s %s from %s: %w", c.Name, c.Version, c.Repo, err)
		}
		cacheDir = d
	}
	path := ChartCachePath(cacheDir, c)
	if _, err := os.Stat(path); err == nil {
		ch, err := loadArchive(path, c)
		if err == nil {
			logf("using cached chart %s %s (%s)", c.Name, c.Version, path)
			return path, ch, nil
		}
		logf("cached chart %s is unusable (%v); fetching it again", path, err)
	}

	fail := func(err error) (string, *chart.Chart, error) {
		return "", nil, fmt.Errorf("fetch chart %s %s from %s: %w", c.Name, c.Version, c.Repo, oneLineError{err})
	}
	logf("fetching chart %s %s from %s", c.Name, c.Version, c.Repo)
	data, err := download(ctx, c, cacheDir)
	if err != nil {
		if ctx.Err() != nil {
			return fail(fmt.Errorf("%w (the chart is not in the cache %s)", ctx.Err(), cacheDir))
		}
		if isNetworkError(err) {
			return fail(fmt.Errorf("the chart is not in the cache %s and the repository cannot be reached (%v); "+
				"to install without internet access, run `meshgym images save --mesh MESH FILE` on a machine that has it "+
				"(the archive carries the mesh's charts) and `meshgym images load FILE` here", cacheDir, err))
		}
		return fail(err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return fail(fmt.Errorf("the downloaded archive does not load as a chart: %v", err))
	}
	if err := checkChart(ch, c); err != nil {
		return fail(fmt.Errorf("the downloaded archive %w", err))
	}
	if err := writeAtomic(path, data); err != nil {
		return fail(fmt.Errorf("cache the chart: %v", err))
	}
	logf("cached chart %s %s at %s", c.Name, c.Version, path)
	return path, ch, nil
}

// loadArchive loads a cached archive and checks it is chart c.
func loadArchive(path string, c Chart) (*chart.Chart, error) {
	ch, err := loader.Load(path)
	if err != nil {
		return nil, err
	}
	if err := checkChart(ch, c); err != nil {
		return nil, fmt.Errorf("archive %w", err)
	}
	return ch, nil
}

func checkChart(ch *chart.Chart, c Chart) error {
	if ch.Metadata == nil {
		return errors.New("has no Chart.yaml metadata")
	}
	if ch.Metadata.Name != c.Name || ch.Metadata.Version != c.Version {
		return fmt.Errorf("is chart %s %s, not %s %s", ch.Metadata.Name, ch.Metadata.Version, c.Name, c.Version)
	}
	return nil
}

// download reads the repository index and returns the archive of the
// exact version, bounded by ctx.
func download(ctx context.Context, c Chart, cacheDir string) ([]byte, error) {
	tr := ctxTransport(ctx)
	defer tr.CloseIdleConnections()
	providers := getter.Providers{{
		Schemes: []string{"http", "https"},
		New: func(opts ...getter.Option) (getter.Getter, error) {
			return getter.NewHTTPGetter(append(opts, getter.WithTransport(tr))...)
		},
	}}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	// pkg/repo writes the index to CachePath; keep it out of the cache.
	tmp, err := os.MkdirTemp(cacheDir, ".index-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cr, err := repo.NewChartRepository(&repo.Entry{Name: "meshgym", URL: c.Repo}, providers)
	if err != nil {
		return nil, err
	}
	cr.CachePath = tmp
	idxPath, err := cr.DownloadIndexFile()
	if err != nil {
		return nil, fmt.Errorf("read the repository index: %w", err)
	}
	idx, err := repo.LoadIndexFile(idxPath)
	if err != nil {
		return nil, fmt.Errorf("read the repository index: %w", err)
	}
	versions, ok := idx.Entries[c.Name]
	if !ok || len(versions) == 0 {
		return nil, fmt.Errorf("chart %s is not in the repository's index", c.Name)
	}
	var cv *repo.ChartVersion
	for _, v := range versions {
		if v.Version == c.Version {
			cv = v
			break
		}
	}
	if cv == nil {
		return nil, fmt.Errorf("version %s is not in the repository's index (newest: %s)", c.Version, newest(versions, 5))
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("the index lists no download URL for version %s", c.Version)
	}
	chartURL, err := repo.ResolveReferenceURL(c.Repo, cv.URLs[0])
	if err != nil {
		return nil, err
	}
	buf, err := cr.Client.Get(chartURL, getter.WithURL(c.Repo))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", chartURL, err)
	}
	data := buf.Bytes()
	if cv.Digest != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, cv.Digest) {
			return nil, fmt.Errorf("download %s: sha256 %s does not match the index's digest %s", chartURL, got, cv.Digest)
		}
	}
	return data, nil
}

// newest lists up to n versions, newest first.
func newest(vs repo.ChartVersions, n int) string {
	type sv struct {
		s string
		v *semver.Version
	}
	var all []sv
	for _, v := range vs {
		if p, err := semver.NewVersion(v.Version); err == nil {
			all = append(all, sv{v.Version, p})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v.GreaterThan(all[j].v) })
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, all[i].s)
	}
	if len(all) > n {
		out = append(out, "…")
	}
	return strings.Join(out, ", ")
}

// ctxTransport is an HTTP transport whose connections are closed when
// ctx ends, so a download in Helm's getter (which takes no context)
// stops with it.
func ctxTransport(ctx context.Context) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			return &ctxConn{Conn: conn, stop: stop}, nil
		},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true, // as Helm's HTTPGetter: archives are gzip already
	}
}

type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// isNetworkError tells a repository that cannot be reached (DNS, refused,
// unreachable, timeouts) from one that answered.
func isNetworkError(err error) bool {
	var ne net.Error
	var op *net.OpError
	var dns *net.DNSError
	var ue *url.Error
	return errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &ne) || errors.As(err, &ue)
}

// writeAtomic writes data to path through a temporary file in the same
// directory and a rename, so a reader never sees half an archive.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}
