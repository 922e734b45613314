package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"meshgym/sandbox/local"
)

// BuildCommand is the command that builds the lean static executables the
// images are made from, as the error of an unusable executable says.
const BuildCommand = "CGO_ENABLED=0 GOOS=linux go build -o bin/ ./cmd/..."

// Executables are the paths of the lean executables meshgym's images are
// built from.
type Executables struct {
	App     string // meshgym-app
	Sidecar string // meshgym-sidecar
}

// FindExecutables finds meshgym-app and meshgym-sidecar as the local
// platform does (local.ResolveExecutables: next to the running meshgym,
// then on PATH). The error says they are missing and how to build them.
func FindExecutables() (Executables, error) {
	exe := local.ResolveExecutables()
	if exe.Note != "" || len(exe.App) != 1 || len(exe.Sidecar) != 1 {
		return Executables{}, fmt.Errorf("the lean executables meshgym-app and meshgym-sidecar are not next to meshgym or on PATH; "+
			"hint: build them with `%s` and put them beside meshgym", BuildCommand)
	}
	return Executables{App: exe.App[0], Sidecar: exe.Sidecar[0]}, nil
}

// elfMachines maps GOARCH names (as the daemon reports its Arch) to ELF
// machine types.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM, "386": elf.EM_386,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// CheckStatic checks that path is a static Linux executable (ELF, no
// PT_INTERP program header, so it runs in a FROM scratch image) for the
// daemon's architecture arch (GOARCH spelling, "amd64"; "" skips that
// check). The error names the file and gives BuildCommand.
func CheckStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable (%v); hint: build it with `%s`", path, err, BuildCommand)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it needs a program interpreter, which a FROM scratch image lacks); hint: rebuild it static with `%s`", path, BuildCommand)
		}
	}
	if want, ok := elfMachines[arch]; ok && f.Machine != want {
		return fmt.Errorf("%s is built for %s but the Docker daemon runs %s; hint: rebuild it with `CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o bin/ ./cmd/...`", path, f.Machine, arch, arch)
	}
	return nil
}

// Image is one of meshgym's images as List reports it.
type Image struct {
	Ref       string    // "meshgym/sample-app:0.4.0-dev"
	ID        string    // "sha256:…"
	Component string    // "app" or "sidecar"
	SizeMB    float64   // MB (2^20 bytes)
	Created   time.Time // build time
	ExeSHA256 string    // hex SHA-256 of the executable inside
}

// List returns meshgym's images present in the daemon (every version), by
// the LabelImage label.
func List(ctx context.Context, cli *client.Client) ([]Image, error) {
	res, err := cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", LabelImage)})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []Image
	for _, s := range res.Items {
		for _, tag := range s.RepoTags {
			out = append(out, Image{Ref: tag, ID: s.ID, Component: s.Labels[LabelImage],
				SizeMB: float64(s.Size) / (1 << 20), Created: time.Unix(s.Created, 0), ExeSHA256: s.Labels[LabelExeSHA256]})
		}
	}
	return out, nil
}

// Built says what Ensure did with one image.
type Built struct {
	Ref     string
	Rebuilt bool // false: reused the image already present
}

// Ensure makes meshgym's two images for this version present and current:
// an image whose LabelExeSHA256 matches the executable's content is reused,
// otherwise it is built (BuildOne). logf receives progress lines ("building
// image … from … (8.1 MB)"). arch is the daemon's architecture (GOARCH
// spelling) the executables are checked against.
func Ensure(ctx context.Context, cli *client.Client, exe Executables, arch string, logf func(string, ...any)) ([]Built, error) {
	app, sidecar := Refs()
	var out []Built
	for _, it := range []struct{ ref, path, comp string }{{app, exe.App, "app"}, {sidecar, exe.Sidecar, "sidecar"}} {
		sum, err := fileSHA256(it.path)
		if err != nil {
			return out, err
		}
		insp, err := cli.ImageInspect(ctx, it.ref)
		if err == nil && insp.Config != nil && insp.Config.Labels[LabelExeSHA256] == sum {
			out = append(out, Built{Ref: it.ref})
			continue
		}
		if err != nil && !errdefs.IsNotFound(err) {
			return out, fmt.Errorf("inspect image %s: %w", it.ref, err)
		}
		if err := BuildOne(ctx, cli, it.ref, it.comp, it.path, arch, logf); err != nil {
			return out, err
		}
		out = append(out, Built{Ref: it.ref, Rebuilt: true})
	}
	return out, nil
}

// Build builds (or rebuilds) both of meshgym's images for this version.
func Build(ctx context.Context, cli *client.Client, exe Executables, arch string, logf func(string, ...any)) error {
	app, sidecar := Refs()
	if err := BuildOne(ctx, cli, app, "app", exe.App, arch, logf); err != nil {
		return err
	}
	return BuildOne(ctx, cli, sidecar, "sidecar", exe.Sidecar, arch, logf)
}

// BuildOne builds image ref FROM scratch with the executable at path as its
// entrypoint (/meshgym-app or /meshgym-sidecar), labelled with LabelImage =
// component and the executable's SHA-256. It uses the Engine API's classic
// builder with a tar context; FROM scratch pulls nothing. The executable is
// checked first (CheckStatic).
func BuildOne(ctx context.Context, cli *client.Client, ref, component, path, arch string, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := CheckStatic(path, arch); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	name := "meshgym-" + component
	logf("building image %s FROM scratch with %s (%.1f MB); no registry needed, later runs reuse it", ref, path, float64(len(data))/(1<<20))
	start := time.Now()
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s /%s\nENTRYPOINT [\"/%s\"]\n", name, name, name)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {name, 0o755, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Labels:      map[string]string{LabelImage: component, LabelExeSHA256: hex.EncodeToString(sum[:])},
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", ref, err)
	}
	defer res.Body.Close()
	if err := readStream(res.Body); err != nil {
		return fmt.Errorf("build image %s: %w", ref, err)
	}
	logf("built image %s in %.1fs", ref, time.Since(start).Seconds())
	return nil
}

// readStream reads a JSON message stream of the Engine API (build, pull,
// load) to its end and returns the first error it reports.
func readStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		var legacy struct {
			Error string `json:"error"`
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		_ = json.Unmarshal(raw, &m)
		_ = json.Unmarshal(raw, &legacy)
		if m.Error != nil && m.Error.Message != "" {
			return errors.New(strings.TrimSpace(m.Error.Message))
		}
		if legacy.Error != "" {
			return errors.New(strings.TrimSpace(legacy.Error))
		}
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Save writes refs (default: both of meshgym's images for this version) as
// one `docker save` tarball to file, for copying onto USB sticks. A missing
// image is an error naming it and `meshgym images build`; errors name file.
// The tarball is written to a unique temporary file in file's directory
// and renamed onto file when complete (replacing an existing regular
// file); an existing file that is not a regular file is ErrNotRegular.
func Save(ctx context.Context, cli *client.Client, file string, refs ...string) error {
	return SaveArchive(ctx, cli, file, refs, nil)
}

// ErrNotRegular is the error (inside an *fs.PathError) of Save when file
// exists and is not a regular file: a symbolic link, a FIFO, a device
// such as /dev/null, a directory. Save never replaces those.
var ErrNotRegular = errors.New("is not a regular file")

// Load reads a tarball written by Save (or `docker save`) into the daemon
// and returns the references it loaded. Errors name file.
func Load(ctx context.Context, cli *client.Client, file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	defer f.Close()
	res, err := cli.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	defer res.Close()
	var loaded []string
	dec := json.NewDecoder(res)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return loaded, fmt.Errorf("load %s: %w", file, err)
		}
		if m.Error != nil && m.Error.Message != "" {
			return loaded, fmt.Errorf("load %s: %s", file, strings.TrimSpace(m.Error.Message))
		}
		if s, ok := strings.CutPrefix(strings.TrimSpace(m.Stream), "Loaded image: "); ok {
			loaded = append(loaded, s)
		} else if s, ok := strings.CutPrefix(strings.TrimSpace(m.Stream), "Loaded image ID: "); ok {
			loaded = append(loaded, s)
		}
	}
	if len(loaded) == 0 {
		return nil, fmt.Errorf("load %s: no image in it; hint: give a tarball written by `meshgym images save`", filepath.Base(file))
	}
	return loaded, nil
}

// PullTimeout bounds Pull: a registry that does not answer within it fails
// the pull.
const PullTimeout = 2 * time.Second

// Pull pulls ref (the upstream fake-service image) when it is absent,
// giving up after timeout (PullTimeout when 0) with an error that says the
// registry did not answer and what to do instead. A present image is not
// pulled again.
func Pull(ctx context.Context, cli *client.Client, ref string, timeout time.Duration, logf func(string, ...any)) error {
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if timeout == 0 {
		timeout = PullTimeout
	}
	hint := fmt.Sprintf("hint: copy it here with `docker save %s` / `docker load`, or use meshgym's own images (--image-source local, the default)", ref)
	return pull(ctx, cli, ref, timeout, logf, hint)
}

// pull pulls ref, giving up after timeout; errors end with hint.
func pull(ctx context.Context, cli *client.Client, ref string, timeout time.Duration, logf func(string, ...any), hint string) error {
	if logf != nil {
		logf("pulling image %s (giving up after %s)", ref, timeout)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		res, err := cli.ImagePull(pctx, ref, client.ImagePullOptions{})
		if err != nil {
			done <- err
			return
		}
		defer res.Close()
		done <- res.Wait(pctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-pctx.Done():
		// The daemon may keep the request open past the deadline; do not
		// wait for it.
		err = pctx.Err()
	}
	if err == nil {
		return nil
	}
	if pctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("image %s is not present and the registry did not answer within %s; %s", ref, timeout, hint)
	}
	return fmt.Errorf("pull image %s: %v; %s", ref, strings.TrimSpace(err.Error()), hint)
}
