package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"meshgym/plugins/kubemesh"
	"meshgym/plugins/meshinstall"
	"meshgym/sandbox/docker"
	"meshgym/sandbox/docker/images"
	"meshgym/sandbox/kind"
)

func init() { moreCommands = append(moreCommands, newImagesCmd) }

func newImagesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "images",
		Short: "Build, list, save and load the Docker platform's images",
		Long: `The Docker platform runs meshgym's own sample-app and sidecar images, built
here FROM scratch out of the lean executables meshgym-app and
meshgym-sidecar and tagged with meshgym's version; the first
--platform docker run builds them, later runs reuse them. No registry is
needed.

For a room without network: build once, 'meshgym images save FILE', copy
FILE onto USB sticks, and 'meshgym images load FILE' on every machine.
For --platform kind, 'meshgym images save --mesh istio --node-image FILE'
on a machine with internet also carries the mesh's images, its Helm
charts and the kind node image; after 'images load FILE',
'meshgym up --platform kind --mesh istio' needs no network.
'images save' does not overwrite an existing FILE unless --force is given.

Exit codes: 0 done, 2 bad input (a file that cannot be read or written, an
existing FILE to save to without --force, a file to load that is not an
image archive), 3 Docker is not reachable or failed.`,
		Example: `  meshgym images build
  meshgym images save meshgym-images.tar
  meshgym images save --mesh istio --node-image classroom.tar
  meshgym images load /media/usb/meshgym-images.tar
  meshgym images list`,
		Args: exactArgs(0, "a sub-command: build, save, load or list"),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(
		&cobra.Command{
			Use:   "build",
			Short: "Build (or rebuild) the sample-app and sidecar images",
			Args:  exactArgs(0, "no arguments"),
			RunE: func(c *cobra.Command, _ []string) error {
				exe, err := images.FindExecutables()
				if err != nil {
					return &exitError{code: exitPlatform, err: err}
				}
				return withDocker(c, func(cli *client.Client, arch string) error {
					err := images.Build(c.Context(), cli, exe, arch, func(f string, a ...any) {
						fmt.Fprintf(c.ErrOrStderr(), f+"\n", a...)
					})
					if err != nil {
						return &exitError{code: exitPlatform, err: err}
					}
					app, sc := images.Refs()
					fmt.Fprintf(c.OutOrStdout(), "built %s\nbuilt %s\n", app, sc)
					return nil
				})
			},
		},
		newImagesSaveCmd(),
		newImagesLoadCmd(),
		newImagesListCmd(),
	)
	return c
}

// withDocker connects to the daemon (exit 3 when it does not answer) and
// runs f with the client and the daemon's architecture.
func withDocker(c *cobra.Command, f func(cli *client.Client, arch string) error) error {
	cli, arch, err := docker.Connect(c.Context())
	if err != nil {
		return &exitError{code: exitPlatform, err: fmt.Errorf("%w; hint: start the Docker daemon, then try again", err)}
	}
	defer cli.Close()
	return f(cli, arch)
}

// fileErr gives a save/load error its exit code: the file's fault 2, the
// daemon's 3.
func fileErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &exitError{code: exitUsage, err: err}
	}
	return &exitError{code: exitPlatform, err: err}
}

// chartsPrefix is the directory of the Helm chart entries that `images
// save --mesh` adds to the archive (below it: the chart's path relative
// to the chart cache, meshinstall.ChartCachePath).
const chartsPrefix = "meshgym-charts"

// Seams for tests: the real meshes (kubemesh), so tests can inject a mesh
// whose images are meshgym's own and whose chart comes from a local
// repository.
var (
	imagesMeshSpecs  = kubemesh.Specs
	imagesMeshLookup = kubemesh.Lookup
)

// imagesMeshNames lists the meshes for messages: "istio, linkerd or consul".
func imagesMeshNames() string {
	var names []string
	for _, s := range imagesMeshSpecs() {
		names = append(names, s.Name)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// meshSpecsFor resolves --mesh values (each may be a comma list; empty
// items and repeats are dropped). An unknown name is bad input naming the
// meshes.
func meshSpecsFor(names []string) ([]kubemesh.Spec, error) {
	var out []kubemesh.Spec
	seen := map[string]bool{}
	for _, n := range names {
		for _, name := range strings.Split(n, ",") {
			name = strings.TrimSpace(name)
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			spec, ok := imagesMeshLookup(name)
			if !ok {
				return nil, usageErr("--mesh %s: not a mesh meshgym installs; choose %s (a comma list for several)", name, imagesMeshNames())
			}
			out = append(out, spec)
		}
	}
	return out, nil
}

// chartCacheDir is meshinstall.DefaultCacheDir as an exit-coded error.
func chartCacheDir() (string, error) {
	d, err := meshinstall.DefaultCacheDir()
	if err != nil {
		return "", &exitError{code: exitPlatform, err: err}
	}
	return d, nil
}

// newImagesSaveCmd is `meshgym images save FILE [--force] [--mesh M,…] [--node-image]`.
func newImagesSaveCmd() *cobra.Command {
	var (
		force     bool
		meshes    []string
		nodeImage bool
	)
	c := &cobra.Command{
		Use:   "save FILE",
		Short: "Write meshgym's images (and with --mesh a mesh's images and charts) to one tarball, e.g. for USB sticks",
		Long: `Write meshgym's sample-app and sidecar images to FILE as one 'docker save'
tarball, for 'meshgym images load FILE' on machines without network.

--mesh istio[,linkerd,consul] adds what 'meshgym up --platform kind --mesh
NAME' needs from the internet: the mesh's container images (each one the
local Docker lacks is pulled first, giving up after 5 minutes per image)
and its pinned Helm charts (fetched into the chart cache, then carried in
FILE as extra entries under meshgym-charts/, which 'docker load' ignores).
--node-image adds the kind node image ` + kind.NodeImage + `
(about 1 GB; saved by its tag, since 'docker load' restores tags, not
registry digests). The first save of a mesh needs internet access; later saves
use what Docker and the chart cache already have.

An existing FILE is not overwritten: that exits 2 naming it, unless --force
is given. A FILE that exists and is not a regular file (a symbolic link, a
FIFO, a device such as /dev/null) is never replaced, not even with --force:
that exits 2. FILE "" and "-" (standard output) exit 2 too. The tarball is
written to a temporary file next to FILE first and renamed onto it when
complete, so an interrupted save leaves no half-written FILE.

Exit codes: 0 saved, 2 bad input (FILE, an unknown --mesh), 3 Docker
failed, or an image or chart could not be fetched (no internet).`,
		Example: `  meshgym images save meshgym-images.tar
  meshgym images save --mesh istio --node-image classroom.tar
  meshgym images save --mesh istio,linkerd,consul --node-image everything.tar`,
		Args: exactArgs(1, "FILE, the tarball to write"),
		RunE: func(c *cobra.Command, args []string) error {
			file := args[0]
			specs, err := meshSpecsFor(meshes)
			if err != nil {
				return err
			}
			switch file {
			case "":
				return usageErr("save: FILE is empty; give the path of the tarball to write")
			case "-":
				return usageErr("save -: writing to standard output is not supported; give the path of the tarball to write")
			}
			if st, err := os.Lstat(file); err == nil {
				switch {
				case st.IsDir():
					return usageErr("save %s: is a directory; give the path of the tarball to write", file)
				case !st.Mode().IsRegular():
					// A symbolic link, FIFO or device (/dev/null): never
					// replaced, even with --force.
					return usageErr("save: %s is not a regular file (%s); it is never replaced, not even with --force; give the path of a new file", file, fileKind(st.Mode()))
				case !force:
					return usageErr("save %s: the file exists; give another name, or --force to overwrite it", file)
				}
			}
			ctx := c.Context()
			logf := func(f string, a ...any) { fmt.Fprintf(c.ErrOrStderr(), "meshgym: "+f+"\n", a...) }

			// The charts first: without internet this fails fast, before
			// any large image is pulled.
			var extra []images.ExtraFile
			if len(specs) > 0 {
				cacheDir, err := chartCacheDir()
				if err != nil {
					return err
				}
				for _, s := range specs {
					for _, ch := range s.Charts {
						p, err := meshinstall.FetchChart(ctx, ch, cacheDir)
						if err != nil {
							return &exitError{code: exitPlatform, err: fmt.Errorf("save %s: %s: %w", file, s.Name, err)}
						}
						rel, err := filepath.Rel(cacheDir, p)
						if err != nil {
							return &exitError{code: exitPlatform, err: fmt.Errorf("save %s: chart %s: %w", file, ch.Name, err)}
						}
						logf("chart %s %s of %s: %s", ch.Name, ch.Version, s.Name, p)
						extra = append(extra, images.ExtraFile{Name: chartsPrefix + "/" + filepath.ToSlash(rel), Path: p})
					}
				}
			}
			return withDocker(c, func(cli *client.Client, _ string) error {
				app, sc := images.Refs()
				refs := []string{app, sc}
				var more []string
				for _, s := range specs {
					more = append(more, s.Images...)
				}
				if nodeImage {
					more = append(more, kind.NodeImage)
				}
				more = dedupeStrings(more, refs...)
				if _, err := images.PullMissing(ctx, cli, more, 0, logf); err != nil {
					return &exitError{code: exitPlatform, err: fmt.Errorf("save %s: %w", file, err)}
				}
				for i, r := range more {
					// A digest-pinned image (the kind node image) is saved
					// by its tag, so that 'docker load' tags it again.
					sr, err := images.SaveRef(ctx, cli, r)
					if err != nil {
						return &exitError{code: exitPlatform, err: fmt.Errorf("save %s: %w", file, err)}
					}
					more[i] = sr
				}
				refs = append(refs, more...)
				if err := images.SaveArchive(ctx, cli, file, refs, extra); err != nil {
					return fileErr(err)
				}
				st, _ := os.Stat(file)
				size := 0.0
				if st != nil {
					size = float64(st.Size()) / (1 << 20)
				}
				out := c.OutOrStdout()
				if len(more) == 0 && len(extra) == 0 {
					fmt.Fprintf(out, "saved %s and %s to %s (%.1f MB)\n", app, sc, file, size)
					return nil
				}
				for _, r := range refs {
					fmt.Fprintf(out, "saved %s\n", r)
				}
				for _, e := range extra {
					fmt.Fprintf(out, "saved chart %s\n", strings.TrimPrefix(e.Name, chartsPrefix+"/"))
				}
				fmt.Fprintf(out, "saved %s and %s to %s (%.1f MB); on a machine without internet: meshgym images load %s\n",
					plural(len(refs), "image"), plural(len(extra), "chart"), file, size, file)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite FILE when it exists")
	c.Flags().StringSliceVar(&meshes, "mesh", nil, "also save these meshes' images and Helm charts: "+imagesMeshNames()+" (a comma list)")
	c.Flags().BoolVar(&nodeImage, "node-image", false, "also save the kind node image "+kind.NodeImage)
	return c
}

// dedupeStrings drops repeats and the values of skip, keeping order.
func dedupeStrings(in []string, skip ...string) []string {
	seen := map[string]bool{}
	for _, s := range skip {
		seen[s] = true
	}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// newImagesLoadCmd is `meshgym images load FILE`.
func newImagesLoadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "load FILE",
		Short: "Load images (and carried Helm charts) from a tarball written by 'meshgym images save'",
		Long: `Load the images in FILE, a tarball written by 'meshgym images save' (or
'docker save', also gzip- or bzip2-compressed), into Docker, and the Helm
charts it carries (meshgym-charts/…, from 'images save --mesh') into the
chart cache (<user cache dir>/meshgym/charts, e.g. ~/.cache/meshgym/charts;
$XDG_CACHE_HOME moves it on Linux), where 'meshgym up --platform kind'
finds them without internet access.

FILE is checked first: a file that is not a complete image archive exits
2 naming it, before Docker is asked. A chart entry with an absolute path
or "..", or that is not a regular file, exits 2 and nothing is loaded; a
chart already cached with the same content is kept, one cached with
different content is never overwritten (exit 2 naming it: move it away
and load again).

Exit codes: 0 loaded, 2 bad input, 3 Docker is not reachable or failed.`,
		Args: exactArgs(1, "FILE, a tarball written by 'meshgym images save'"),
		RunE: func(c *cobra.Command, args []string) error {
			file := args[0]
			if err := checkImageArchive(file); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cacheDir := ""
			charts, err := images.ExtractExtra(file, chartsPrefix, "", true)
			if err == nil && len(charts) > 0 {
				if cacheDir, err = chartCacheDir(); err != nil {
					return err
				}
				charts, err = images.ExtractExtra(file, chartsPrefix, cacheDir, true)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("load %w", err)}
			}
			return withDocker(c, func(cli *client.Client, _ string) error {
				refs, err := images.Load(c.Context(), cli, file)
				if err != nil {
					return fileErr(err)
				}
				out := c.OutOrStdout()
				for _, r := range refs {
					fmt.Fprintf(out, "loaded %s\n", r)
				}
				if len(charts) == 0 {
					return nil
				}
				if charts, err = images.ExtractExtra(file, chartsPrefix, cacheDir, false); err != nil {
					if errors.Is(err, images.ErrConflict) || errors.Is(err, images.ErrUnsafeEntry) {
						return &exitError{code: exitUsage, err: fmt.Errorf("load %w", err)}
					}
					return &exitError{code: exitPlatform, err: fmt.Errorf("load %w", err)}
				}
				for _, ch := range charts {
					note := ""
					if ch.Existed {
						note = " (already cached)"
					}
					fmt.Fprintf(out, "loaded chart %s%s\n", ch.Name, note)
				}
				fmt.Fprintf(out, "loaded %s and %s; the charts are cached in %s", plural(len(refs), "image"), plural(len(charts), "chart"), cacheDir)
				if ready := meshesReady(cacheDir); len(ready) > 0 {
					var cmds []string
					for _, m := range ready {
						cmds = append(cmds, "'meshgym up --platform kind --mesh "+m+"'")
					}
					fmt.Fprintf(out, "; %s now works without internet", strings.Join(cmds, " or "))
				}
				fmt.Fprintln(out)
				return nil
			})
		},
	}
}

// meshesReady names the meshes all of whose charts are in cacheDir.
func meshesReady(cacheDir string) []string {
	var out []string
	for _, s := range imagesMeshSpecs() {
		ok := len(s.Charts) > 0
		for _, ch := range s.Charts {
			if st, err := os.Stat(meshinstall.ChartCachePath(cacheDir, ch)); err != nil || !st.Mode().IsRegular() {
				ok = false
			}
		}
		if ok {
			out = append(out, s.Name)
		}
	}
	return out
}

// newImagesListCmd is `meshgym images list`.
func newImagesListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List meshgym's images, the mesh and kind node images present in Docker, and the cached charts",
		Long: `List meshgym's own images present in Docker (every version), the images of
the real meshes (` + imagesMeshNames() + `) and the kind node image that
Docker has (COMPONENT names the mesh, or "kind node"), and the Helm charts
in the chart cache (marked with their mesh when one pins them).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			return withDocker(c, func(cli *client.Client, _ string) error {
				ctx := c.Context()
				imgs, err := images.List(ctx, cli)
				if err != nil {
					return &exitError{code: exitPlatform, err: err}
				}
				type row struct{ ref, comp, size, created string }
				others := []struct{ ref, comp string }{}
				meshOf := map[string]string{}
				for _, s := range imagesMeshSpecs() {
					for _, r := range s.Images {
						if meshOf[r] == "" {
							others = append(others, struct{ ref, comp string }{r, s.Name})
						}
						meshOf[r] = s.Name
					}
				}
				others = append(others, struct{ ref, comp string }{kind.NodeImage, "kind node"})
				var rows []row
				for _, im := range imgs {
					if meshOf[im.Ref] != "" {
						continue // listed below, marked with its mesh
					}
					rows = append(rows, row{im.Ref, im.Component, fmt.Sprintf("%.1f MB", im.SizeMB), im.Created.Format("2006-01-02 15:04")})
				}
				for _, o := range others {
					insp, err := cli.ImageInspect(ctx, o.ref)
					if err != nil {
						continue
					}
					created := insp.Created
					if t, err := time.Parse(time.RFC3339Nano, insp.Created); err == nil {
						created = t.Local().Format("2006-01-02 15:04")
					}
					rows = append(rows, row{o.ref, o.comp, fmt.Sprintf("%.1f MB", float64(insp.Size)/(1<<20)), created})
				}
				out := c.OutOrStdout()
				if len(imgs) == 0 {
					fmt.Fprintln(out, "no meshgym images; 'meshgym images build' builds them (the first --platform docker run does too)")
				}
				if len(rows) > 0 {
					tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "IMAGE\tCOMPONENT\tSIZE\tCREATED")
					for _, r := range rows {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ref, r.comp, r.size, r.created)
					}
					if err := tw.Flush(); err != nil {
						return err
					}
				}
				cacheDir, err := meshinstall.DefaultCacheDir()
				if err != nil {
					fmt.Fprintf(out, "\nno chart cache: %v\n", err)
					return nil
				}
				charts := cachedCharts(cacheDir)
				if len(charts) == 0 {
					fmt.Fprintf(out, "\nno Helm charts cached in %s; 'meshgym images load FILE' or the first 'meshgym up --platform kind' puts them there\n", cacheDir)
					return nil
				}
				fmt.Fprintf(out, "\nHelm charts cached in %s:\n", cacheDir)
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "CHART\tMESH\tSIZE")
				for _, ch := range charts {
					fmt.Fprintf(tw, "%s\t%s\t%.1f KB\n", ch.rel, ch.mesh, float64(ch.size)/1024)
				}
				return tw.Flush()
			})
		},
	}
}

type cachedChart struct {
	rel  string // slash-separated path below the cache directory
	mesh string // "istio", or "-" when no mesh pins it
	size int64
}

// cachedCharts lists the chart archives (*.tgz) in cacheDir, sorted.
func cachedCharts(cacheDir string) []cachedChart {
	owner := map[string]string{}
	for _, s := range imagesMeshSpecs() {
		for _, ch := range s.Charts {
			owner[meshinstall.ChartCachePath(cacheDir, ch)] = s.Name
		}
	}
	var out []cachedChart
	filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".tgz") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(cacheDir, p)
		m := owner[p]
		if m == "" {
			m = "-"
		}
		out = append(out, cachedChart{rel: filepath.ToSlash(rel), mesh: m, size: info.Size()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

// fileKind names the type of a file that is not a regular file, for
// error messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// checkImageArchive checks that file is a complete image archive as
// 'docker save' writes it (and 'docker load' reads it): a tar file,
// plain or gzip/bzip2-compressed, with a top-level manifest.json (Docker's
// format) or index.json (OCI image layout), readable to its end. The error
// is one line naming file. xz- and zstd-compressed files, which the
// standard library cannot read, are left to Docker.
func checkImageArchive(file string) error {
	// Read three times (check, charts, docker load): only a regular file
	// will do, and opening a FIFO would block.
	if st, err := os.Stat(file); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		return fmt.Errorf("load %s: not a regular file (%s); give the archive file itself", file, st.Mode().Type())
	}
	f, err := os.Open(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("load %s: %v", file, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("load %s: is a directory, not an image archive", file)
	}
	notArchive := func(why string) error {
		return fmt.Errorf("load %s: not an image archive (%s); give a tarball written by 'meshgym images save' or 'docker save'", file, why)
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(6)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return notArchive("damaged gzip: " + err.Error())
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(magic, []byte("BZh")):
		r = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}), bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil // xz, zstd: Docker checks them
	}
	tr := tar.NewReader(r)
	found, entries := false, 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if entries == 0 {
				return notArchive("not a tar file")
			}
			return notArchive(fmt.Sprintf("damaged or cut off after %d entries: %v", entries, err))
		}
		entries++
		if name := path.Clean(h.Name); name == "manifest.json" || name == "index.json" {
			found = true
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return notArchive(fmt.Sprintf("damaged or cut off in %s: %v", h.Name, err))
		}
	}
	switch {
	case entries == 0:
		return notArchive("empty, or not a tar file")
	case !found:
		return notArchive("a tar file without manifest.json or index.json")
	}
	return nil
}
