package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dockerTar is a small stand-in for a `docker save` archive.
func dockerTar(t *testing.T, entries ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(entries); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: entries[i], Mode: 0o644, Size: int64(len(entries[i+1])), Typeflag: tar.TypeReg,
			PAXRecords: map[string]string{"MESHGYM.test": "kept"}}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(entries[i+1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readTar(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
		if !strings.HasPrefix(h.Name, "meshgym-charts/") && h.PAXRecords["MESHGYM.test"] != "kept" {
			t.Errorf("%s lost its PAX records: %v", h.Name, h.PAXRecords)
		}
	}
}

// TestExtraRoundTrip: chart files appended to an image archive come out
// of it again into a cache directory, Docker's entries untouched, and a
// second extraction of the same archive finds them in place.
func TestExtraRoundTrip(t *testing.T) {
	dir := t.TempDir()
	chartA := filepath.Join(dir, "a.tgz")
	chartB := filepath.Join(dir, "b.tgz")
	os.WriteFile(chartA, []byte("chart a"), 0o644)
	os.WriteFile(chartB, []byte("chart bb"), 0o644)
	src := dockerTar(t, "manifest.json", `[{"Config":"c.json"}]`, "c.json", "{}", "l/layer.tar", strings.Repeat("x", 3000))

	var buf bytes.Buffer
	err := AppendExtra(&buf, bytes.NewReader(src), []ExtraFile{
		{Name: "meshgym-charts/repo.example_443/a-1.0.0.tgz", Path: chartA},
		{Name: "meshgym-charts/127.0.0.1_8080/b-0.1.0.tgz", Path: chartB},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readTar(t, buf.Bytes())
	want := map[string]string{
		"manifest.json": `[{"Config":"c.json"}]`, "c.json": "{}", "l/layer.tar": strings.Repeat("x", 3000),
		"meshgym-charts/repo.example_443/a-1.0.0.tgz": "chart a", "meshgym-charts/127.0.0.1_8080/b-0.1.0.tgz": "chart bb",
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", keys(got), keys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	for name, data := range map[string][]byte{"x.tar": buf.Bytes(), "x.tar.gz": gz(t, buf.Bytes())} {
		t.Run(name, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), name)
			os.WriteFile(archive, data, 0o644)
			cache := filepath.Join(t.TempDir(), "charts")
			dry, err := ExtractExtra(archive, "meshgym-charts", cache, true)
			if err != nil || len(dry) != 2 {
				t.Fatalf("dry run: %v %v", dry, err)
			}
			if _, err := os.Stat(cache); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the dry run wrote into the cache: %v", err)
			}
			files, err := ExtractExtra(archive, "meshgym-charts", cache, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 2 || files[0].Name != "127.0.0.1_8080/b-0.1.0.tgz" || files[0].Size != 8 || files[0].Existed ||
				files[1].Path != filepath.Join(cache, "repo.example_443", "a-1.0.0.tgz") {
				t.Errorf("files = %+v", files)
			}
			for rel, content := range map[string]string{"repo.example_443/a-1.0.0.tgz": "chart a", "127.0.0.1_8080/b-0.1.0.tgz": "chart bb"} {
				if b, err := os.ReadFile(filepath.Join(cache, filepath.FromSlash(rel))); err != nil || string(b) != content {
					t.Errorf("%s = %q, %v", rel, b, err)
				}
			}
			// Again: the same content is in place, nothing is written.
			again, err := ExtractExtra(archive, "meshgym-charts", cache, false)
			if err != nil || len(again) != 2 || !again[0].Existed || !again[1].Existed {
				t.Errorf("second extraction: %+v %v", again, err)
			}
			// A different file at a destination is never overwritten, and
			// nothing else is written either.
			other := filepath.Join(cache, "127.0.0.1_8080", "b-0.1.0.tgz")
			os.WriteFile(other, []byte("mine"), 0o644)
			os.Remove(filepath.Join(cache, "repo.example_443", "a-1.0.0.tgz"))
			_, err = ExtractExtra(archive, "meshgym-charts", cache, false)
			if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), other) {
				t.Errorf("conflict: %v", err)
			}
			if b, _ := os.ReadFile(other); string(b) != "mine" {
				t.Errorf("the different file was overwritten: %q", b)
			}
			if _, err := os.Stat(filepath.Join(cache, "repo.example_443", "a-1.0.0.tgz")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an entry was written although another conflicts: %v", err)
			}
		})
	}
}

func TestExtractExtraRefusesUnsafeEntries(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  tar.Header
	}{
		{"dotdot", tar.Header{Name: "meshgym-charts/../../etc/evil", Typeflag: tar.TypeReg, Size: 1}},
		{"dotdot-inner", tar.Header{Name: "meshgym-charts/a/../../x.tgz", Typeflag: tar.TypeReg, Size: 1}},
		{"backslash", tar.Header{Name: "meshgym-charts/..\\..\\x.tgz", Typeflag: tar.TypeReg, Size: 1}},
		{"absolute", tar.Header{Name: "meshgym-charts//etc/passwd", Typeflag: tar.TypeReg, Size: 1}},
		{"symlink", tar.Header{Name: "meshgym-charts/a/link.tgz", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}},
		{"hardlink", tar.Header{Name: "meshgym-charts/a/hard.tgz", Typeflag: tar.TypeLink, Linkname: "manifest.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644})
			tw.Write([]byte("[]"))
			h := tc.hdr
			h.Mode = 0o644
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if h.Size > 0 {
				tw.Write([]byte("x"))
			}
			tw.Close()
			archive := filepath.Join(t.TempDir(), "a.tar")
			os.WriteFile(archive, b.Bytes(), 0o644)
			root := t.TempDir()
			cache := filepath.Join(root, "cache", "charts")
			_, err := ExtractExtra(archive, "meshgym-charts", cache, false)
			if !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), archive) {
				t.Errorf("err = %v, want ErrUnsafeEntry naming the archive", err)
			}
			if ents, _ := os.ReadDir(root); len(ents) != 0 {
				t.Errorf("something was written: %v", ents)
			}
		})
	}
	// AppendExtra refuses such names too, and names Docker's archive has.
	for _, name := range []string{"../x", "/abs", "meshgym-charts/../../x", "manifest.json"} {
		f := filepath.Join(t.TempDir(), "f")
		os.WriteFile(f, []byte("x"), 0o644)
		err := AppendExtra(io.Discard, bytes.NewReader(dockerTar(t, "manifest.json", "[]")), []ExtraFile{{Name: name, Path: f}})
		if err == nil {
			t.Errorf("AppendExtra(%q) succeeded", name)
		}
	}
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTagOf(t *testing.T) {
	for ref, want := range map[string]string{
		"kindest/node:v1.37.0@sha256:a1ed": "kindest/node:v1.37.0",
		"reg:5000/x/y:1.0@sha256:ab":       "reg:5000/x/y:1.0",
		"reg:5000/x/y@sha256:ab":           "",
		"docker.io/istio/pilot:1.27.1":     "",
		"kindest/node@sha256:ab":           "",
	} {
		if got := TagOf(ref); got != want {
			t.Errorf("TagOf(%q) = %q, want %q", ref, got, want)
		}
	}
}

// tar adds the directory entries ("meshgym-charts/", "meshgym-charts/h/")
// of files it packs: they are not unsafe, and the charts still extract.
func TestExtractExtraSkipsDirectoryEntries(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644})
	tw.Write([]byte("[]"))
	tw.WriteHeader(&tar.Header{Name: "meshgym-charts/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "meshgym-charts/h/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "meshgym-charts/h/c-1.0.0.tgz", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644})
	tw.Write([]byte("abc"))
	tw.Close()
	archive := filepath.Join(t.TempDir(), "a.tar")
	os.WriteFile(archive, b.Bytes(), 0o644)
	cache := filepath.Join(t.TempDir(), "charts")
	got, err := ExtractExtra(archive, "meshgym-charts", cache, false)
	if err != nil || len(got) != 1 || got[0].Name != "h/c-1.0.0.tgz" {
		t.Fatalf("ExtractExtra = %+v, %v; want the one chart", got, err)
	}
	if data, _ := os.ReadFile(filepath.Join(cache, "h", "c-1.0.0.tgz")); string(data) != "abc" {
		t.Errorf("extracted %q", data)
	}
}
