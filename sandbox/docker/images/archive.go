package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ExtraFile is a file carried in an image archive besides the images: an
// extra tar entry that `docker load` ignores (it reads only manifest.json
// / index.json and the blobs they name; checked with Docker 20.10's
// classic image store, which loaded an archive with such an entry).
type ExtraFile struct {
	// Name is the entry's slash-separated relative path in the archive
	// ("meshgym-charts/istio-release.storage.googleapis.com/base-1.27.1.tgz");
	// no "..", not absolute.
	Name string
	// Path is the local file whose content the entry gets.
	Path string
}

// ExtractedFile is one extra entry ExtractExtra found.
type ExtractedFile struct {
	// Name is the entry's name below the prefix ("127.0.0.1_8080/demo-0.1.0.tgz").
	Name string
	// Path is where it was (or, in a dry run, would be) written.
	Path string
	// Size in bytes.
	Size int64
	// Existed is true when Path already held the same content (not written).
	Existed bool
}

// ErrUnsafeEntry is wrapped when an extra entry's name is absolute,
// contains "..", or is not a regular file (a link, a device): it is never
// written.
var ErrUnsafeEntry = errors.New("unsafe archive entry")

// ErrConflict is wrapped when an extra entry would replace an existing
// file of different content: it is never overwritten silently.
var ErrConflict = errors.New("a different file exists")

// cleanEntryName checks an archive entry name and returns it cleaned
// (slash-separated, relative, no "..").
func cleanEntryName(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if n == "" || strings.HasPrefix(n, "/") || filepath.IsAbs(name) || filepath.VolumeName(name) != "" || (len(n) > 1 && n[1] == ':') {
		return "", fmt.Errorf("%w %q: absolute path", ErrUnsafeEntry, name)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w %q: contains \"..\"", ErrUnsafeEntry, name)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", fmt.Errorf("%w %q: empty path", ErrUnsafeEntry, name)
	}
	return c, nil
}

// AppendExtra copies the tar stream r (a `docker save` archive) to w and
// adds the extra files as regular-file entries (mode 0644) after Docker's
// own, then closes the archive. The tar headers of r are kept as they are
// (PAX records included). Errors name the entry or file at fault; an
// unsafe Name is ErrUnsafeEntry, and a Name that r already holds is an
// error.
func AppendExtra(w io.Writer, r io.Reader, extra []ExtraFile) error {
	names := map[string]bool{}
	for _, e := range extra {
		n, err := cleanEntryName(e.Name)
		if err != nil {
			return err
		}
		if names[n] {
			return fmt.Errorf("extra file %s given twice", n)
		}
		names[n] = true
	}
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the image archive: %w", err)
		}
		if names[path.Clean(h.Name)] {
			return fmt.Errorf("extra file %s: the image archive already has an entry of that name", h.Name)
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write the archive: %w", err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("copy %s: %w", h.Name, err)
		}
	}
	for _, e := range extra {
		if err := appendFile(tw, e); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	return nil
}

func appendFile(tw *tar.Writer, e ExtraFile) error {
	n, _ := cleanEntryName(e.Name)
	f, err := os.Open(e.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &fs.PathError{Op: "read", Path: e.Path, Err: ErrNotRegular}
	}
	h := &tar.Header{Name: n, Mode: 0o644, Size: st.Size(), ModTime: st.ModTime().Truncate(time.Second), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write %s: %w", n, err)
	}
	if m, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("write %s: %w", n, err)
	} else if m != st.Size() {
		return fmt.Errorf("write %s: %s changed while being read", n, e.Path)
	}
	return nil
}

// SaveArchive is Save with extra files: refs (none = both of meshgym's
// images) as one `docker save` archive with the extra files appended
// (AppendExtra), written to a unique temporary file next to file and
// renamed onto it when complete. The rules of Save hold: a missing image
// is an error naming it, an existing non-regular file is ErrNotRegular
// (in an *fs.PathError), errors name file.
func SaveArchive(ctx context.Context, cli *client.Client, file string, refs []string, extra []ExtraFile) error {
	if len(refs) == 0 {
		app, sidecar := Refs()
		refs = []string{app, sidecar}
	}
	for _, e := range extra {
		if _, err := cleanEntryName(e.Name); err != nil {
			return fmt.Errorf("save %s: %w", file, err)
		}
	}
	for _, ref := range refs {
		if _, err := cli.ImageInspect(ctx, ref); err != nil {
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("save %s: image %s is not present; hint: run `meshgym images build` first", file, ref)
			}
			return fmt.Errorf("save %s: inspect image %s: %w", file, ref, err)
		}
	}
	return writeAtomic(file, func(w io.Writer) error {
		rc, err := cli.ImageSave(ctx, refs)
		if err != nil {
			return err
		}
		defer rc.Close()
		if len(extra) == 0 {
			_, err = io.Copy(w, rc)
			return err
		}
		return AppendExtra(w, rc, extra)
	})
}

// writeAtomic writes file through a unique temporary file in its
// directory (mode 0644) renamed onto it when write succeeded; an existing
// file that is not regular is never replaced (ErrNotRegular).
func writeAtomic(file string, write func(io.Writer) error) error {
	if st, err := os.Lstat(file); err == nil && !st.Mode().IsRegular() {
		return &fs.PathError{Op: "save", Path: file, Err: ErrNotRegular}
	}
	// A unique temporary file next to file, renamed onto it when complete:
	// an interrupted save leaves neither a half-written file nor touches
	// any other file of the user's (such as a FILE.partial of their own).
	f, err := os.CreateTemp(filepath.Dir(file), ".meshgym-images-*.tar")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return &fs.PathError{Op: "save", Path: file, Err: pe.Err}
		}
		return fmt.Errorf("save %s: %w", file, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600; a saved tarball is for copying to
	// other machines, readable like one written by `docker save -o`.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", file, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", file, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("save %s: %w", file, err)
	}
	done = true
	return nil
}

// openArchive opens an image archive, plain or gzip/bzip2-compressed.
func openArchive(file string) (io.Reader, func(), error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(3)
	var r io.Reader = br
	closeAll := func() { f.Close() }
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: damaged gzip: %w", file, err)
		}
		r = zr
		closeAll = func() { zr.Close(); f.Close() }
	case bytes.HasPrefix(magic, []byte("BZh")):
		r = bzip2.NewReader(br)
	}
	return r, closeAll, nil
}

// MaxExtraBytes bounds one extra file (a Helm chart archive is well
// under a megabyte; Istio's largest is ~100 KB).
const MaxExtraBytes = 64 << 20

// ExtractExtra copies the regular-file entries of the archive file (plain,
// gzip or bzip2) whose names start with prefix + "/" into dest, at their
// name below prefix (".../meshgym-charts/a/b.tgz" → dest/a/b.tgz), and
// returns them sorted by name. It checks every entry before writing any:
// an absolute name, a name with "..", or an entry under prefix that is
// not a regular file (a symbolic link, a device) is ErrUnsafeEntry; a
// file already at the destination with different content is ErrConflict
// (the same content is fine: Existed, not written again). Files are
// written through a temporary file and a rename (mode 0644, directories
// 0755). dryRun checks and reports without writing; a dry run with dest
// "" only lists the entries (Path ""), checking names but not the
// destination. Errors name the archive and the entry.
func ExtractExtra(file, prefix, dest string, dryRun bool) ([]ExtractedFile, error) {
	prefix = strings.Trim(prefix, "/") + "/"
	type want struct {
		ExtractedFile
		sum [sha256.Size]byte
	}
	var found []want
	seen := map[string]bool{}
	scan := func(write bool) error {
		r, closeArchive, err := openArchive(file)
		if err != nil {
			return err
		}
		defer closeArchive()
		tr := tar.NewReader(r)
		i := 0
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: read: %w", file, err)
			}
			name := strings.ReplaceAll(h.Name, "\\", "/")
			if !strings.HasPrefix(strings.TrimPrefix(name, "./"), prefix) {
				continue
			}
			if !write {
				// The prefix directory itself ("meshgym-charts/", which tar
				// adds) is nothing to extract.
				if h.Typeflag == tar.TypeDir && strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(name, "./"), prefix), "/") == "" {
					continue
				}
				rel, err := cleanEntryName(strings.TrimPrefix(strings.TrimPrefix(name, "./"), prefix))
				if err == nil && h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
					err = fmt.Errorf("%w %q: not a regular file", ErrUnsafeEntry, h.Name)
				}
				if err == nil && h.Size > MaxExtraBytes {
					err = fmt.Errorf("%w %q: %d bytes, more than a chart archive's %d", ErrUnsafeEntry, h.Name, h.Size, MaxExtraBytes)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				if h.Typeflag == tar.TypeDir {
					continue
				}
				if seen[rel] {
					return fmt.Errorf("%s: entry %s appears twice", file, h.Name)
				}
				seen[rel] = true
				hs := sha256.New()
				n, err := io.Copy(hs, tr)
				if err != nil {
					return fmt.Errorf("%s: read %s: %w", file, h.Name, err)
				}
				var w want
				w.Name, w.Path, w.Size = rel, filepath.Join(dest, filepath.FromSlash(rel)), n
				copy(w.sum[:], hs.Sum(nil))
				found = append(found, w)
				continue
			}
			if h.Typeflag == tar.TypeDir {
				continue
			}
			w := found[i]
			i++
			if w.Existed {
				continue
			}
			if err := writeEntry(w.Path, tr, w.sum); err != nil {
				return fmt.Errorf("%s: extract %s to %s: %w", file, h.Name, w.Path, err)
			}
		}
	}
	if err := scan(false); err != nil {
		return nil, err
	}
	for i := range found {
		w := &found[i]
		if dest == "" {
			if !dryRun {
				return nil, fmt.Errorf("%s: no directory to extract %s into", file, prefix)
			}
			w.Path = ""
			continue
		}
		st, err := os.Lstat(w.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("%s: %w", file, err)
		case !st.Mode().IsRegular():
			return nil, fmt.Errorf("%s: entry %s%s: %w at %s (not a regular file); remove it and load again", file, prefix, w.Name, ErrConflict, w.Path)
		default:
			sum, err := fileSum(w.Path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if sum != w.sum {
				return nil, fmt.Errorf("%s: entry %s%s: %w at %s (other content); it is not overwritten: move it away and load again", file, prefix, w.Name, ErrConflict, w.Path)
			}
			w.Existed = true
		}
	}
	if !dryRun && len(found) > 0 {
		if err := scan(true); err != nil {
			return nil, err
		}
	}
	out := make([]ExtractedFile, len(found))
	for i, w := range found {
		out[i] = w.ExtractedFile
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func fileSum(p string) (s [sha256.Size]byte, err error) {
	f, err := os.Open(p)
	if err != nil {
		return s, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return s, err
	}
	copy(s[:], h.Sum(nil))
	return s, nil
}

// writeEntry writes r to p atomically and checks its content is what the
// dry pass read.
func writeEntry(p string, r io.Reader, want [sha256.Size]byte) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	h := sha256.New()
	_, werr := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil && !bytes.Equal(h.Sum(nil), want[:]) {
		werr = errors.New("the archive changed while being read")
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}

// MeshPullTimeout bounds pulling one mesh or kind node image for `meshgym
// images save --mesh` (these are large: the kind node image is ~1 GB).
const MeshPullTimeout = 5 * time.Minute

// PullMissing pulls each of refs the daemon lacks (present ones are not
// pulled again), one at a time, each bounded by timeout (MeshPullTimeout
// when 0), and returns the ones it pulled. The error names the image and
// says that pulling needs internet access, with what to do on a machine
// without it. logf (nil = silent) gets one line per pull.
func PullMissing(ctx context.Context, cli *client.Client, refs []string, timeout time.Duration, logf func(string, ...any)) ([]string, error) {
	if timeout == 0 {
		timeout = MeshPullTimeout
	}
	var pulled []string
	for _, ref := range refs {
		if _, err := cli.ImageInspect(ctx, ref); err == nil {
			continue
		} else if !errdefs.IsNotFound(err) {
			return pulled, fmt.Errorf("inspect image %s: %w", ref, err)
		}
		hint := "pulling it needs internet access; run the same `meshgym images save` on a machine that has it, and `meshgym images load FILE` here"
		err := pull(ctx, cli, ref, timeout, logf, hint)
		if err != nil {
			return pulled, err
		}
		pulled = append(pulled, ref)
	}
	return pulled, nil
}

// SaveRef returns the reference to save image ref under so that `docker
// load` tags it again: a digest-pinned reference with a tag
// ("kindest/node:v1.37.0@sha256:…") is saved by its tag
// ("kindest/node:v1.37.0"), which is first made to name the same image
// (docker save of a digest reference writes no tag, and a loaded image
// has no registry digest, so the loaded image is found by its tag only);
// other references are returned as they are. The error is the daemon's.
func SaveRef(ctx context.Context, cli *client.Client, ref string) (string, error) {
	tagged, _, ok := strings.Cut(ref, "@")
	if !ok || !hasTag(tagged) {
		return ref, nil
	}
	want, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if have, err := cli.ImageInspect(ctx, tagged); err == nil && have.ID == want.ID {
		return tagged, nil
	}
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: want.ID, Target: tagged}); err != nil {
		return "", fmt.Errorf("tag image %s as %s: %w", ref, tagged, err)
	}
	return tagged, nil
}

// TagOf is ref without its digest when ref is "name:tag@sha256:…" (the
// reference a loaded copy of the image has), else "".
func TagOf(ref string) string {
	tagged, _, ok := strings.Cut(ref, "@")
	if !ok || !hasTag(tagged) {
		return ""
	}
	return tagged
}

// hasTag reports whether a reference without digest has a ":tag" after
// its last "/" (a registry port is not a tag).
func hasTag(ref string) bool {
	i := strings.LastIndex(ref, "/")
	return strings.Contains(ref[i+1:], ":")
}
