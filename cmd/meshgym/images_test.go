package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imagesTar is a tar archive of the given files (name → content).
func imagesTar(t *testing.T, files ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func imagesGzip(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestImagesLoadBadArchive: a file that is not a complete image archive
// is bad input — exit 2, one line naming the file — found before Docker
// is asked (DOCKER_HOST points nowhere: reaching Docker would exit 3).
func TestImagesLoadBadArchive(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	good := imagesTar(t, "manifest.json", `[{"Config":"c.json","RepoTags":["meshgym-app:dev"],"Layers":["l/layer.tar"]}]`,
		"c.json", "{}", "l/layer.tar", strings.Repeat("x", 4096))
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"text.tar", []byte("these are not the images you are looking for\n"), "not an image archive (not a tar file)"},
		{"empty.tar", nil, "not an image archive (empty, or not a tar file)"},
		{"cut.tar", good[:1500], "not an image archive (damaged or cut off"},
		{"nomanifest.tar", imagesTar(t, "README", "hello"), "not an image archive (a tar file without manifest.json or index.json)"},
		{"junk.tar.gz", imagesGzip(t, []byte("junk junk junk")), "not an image archive"},
		{"dir", nil, "is a directory"},
		{"missing.tar", nil, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name)
			switch tc.name {
			case "dir":
				os.Mkdir(file, 0o755)
			case "missing.tar":
			default:
				if err := os.WriteFile(file, tc.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, stderr, code := traceCLI(t, "images", "load", file)
			if code != exitUsage || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			if !strings.HasPrefix(stderr, "meshgym: load "+file+": ") || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q; want one line naming %s and saying %q", stderr, file, tc.want)
			}
		})
	}
	// Archives docker save writes pass the check (plain and gzipped, and
	// the OCI layout's index.json), so loading them goes on to Docker.
	for name, data := range map[string][]byte{
		"good.tar": good, "good.tar.gz": imagesGzip(t, good), "oci.tar": imagesTar(t, "oci-layout", "{}", "./index.json", "{}"),
	} {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := checkImageArchive(file); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, stderr, code := traceCLI(t, "images", "load", file); code != exitPlatform || !strings.Contains(stderr, "no-docker.sock") {
			t.Errorf("%s without a daemon: exit %d, %q; want 3 (the check passed, Docker is not reachable)", name, code, stderr)
		}
	}
}

// TestImagesSaveRefusesExisting: save does not overwrite a user's file
// unless --force; the refusal exits 2 naming the file and leaves it
// untouched.
func TestImagesSaveRefusesExisting(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	dir := t.TempDir()
	file := filepath.Join(dir, "thesis.tar")
	if err := os.WriteFile(file, []byte("my thesis"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := traceCLI(t, "images", "save", file)
	want := "meshgym: save " + file + ": the file exists; give another name, or --force to overwrite it\n"
	if code != exitUsage || out != "" || stderr != want {
		t.Errorf("save onto a file: exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, out, stderr, want)
	}
	if b, _ := os.ReadFile(file); string(b) != "my thesis" {
		t.Errorf("the file was changed: %q", b)
	}
	if _, stderr, code := traceCLI(t, "images", "save", dir); code != exitUsage || !strings.Contains(stderr, dir+": is a directory") {
		t.Errorf("save onto a directory: exit %d, %q", code, stderr)
	}
	// --force passes the check and goes on to Docker (not reachable: 3).
	if _, stderr, code := traceCLI(t, "images", "save", "--force", file); code != exitPlatform || !strings.Contains(stderr, "no-docker.sock") {
		t.Errorf("save --force: exit %d, %q; want 3 (Docker not reachable)", code, stderr)
	}
	// A new file goes on to Docker too.
	if _, _, code := traceCLI(t, "images", "save", filepath.Join(dir, "new.tar")); code != exitPlatform {
		t.Errorf("save to a new file: exit %d; want 3 (Docker not reachable)", code)
	}
	help, _, _ := traceCLI(t, "images", "save", "--help")
	if !strings.Contains(help, "--force") || !strings.Contains(help, "is not overwritten") {
		t.Errorf("save --help does not say it refuses an existing file:\n%s", help)
	}
}

// TestImagesSaveRefusesNonRegular: save never replaces a symbolic link, a
// FIFO or a device (/dev/null), not even with --force, and refuses FILE ""
// and "-": exit 2 before Docker is asked (DOCKER_HOST points nowhere, so
// reaching Docker would exit 3).
func TestImagesSaveRefusesNonRegular(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	dir := t.TempDir()
	target := filepath.Join(dir, "target.tar")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.tar")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	special := map[string]string{link: "a symbolic link"}
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err == nil {
		special[fifo] = "a FIFO"
	}
	if st, err := os.Stat("/dev/null"); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		special["/dev/null"] = "a character device"
	}
	for file, kind := range special {
		for _, args := range [][]string{{"images", "save", file}, {"images", "save", "--force", file}} {
			out, stderr, code := traceCLI(t, args...)
			if code != exitUsage || out != "" || !strings.Contains(stderr, file+" is not a regular file ("+kind+")") {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, %q is not a regular file (%s)", args, code, out, stderr, file, kind)
			}
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the symbolic link's target was changed: %q", b)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link was replaced: %v", err)
	}
	for file, want := range map[string]string{"": "FILE is empty", "-": "standard output is not supported"} {
		if _, stderr, code := traceCLI(t, "images", "save", "--force", file); code != exitUsage || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("save %q: exit %d, %q; want 2 and one line saying %q", file, code, stderr, want)
		}
	}
}
