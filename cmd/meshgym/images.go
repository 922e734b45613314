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
	"text/tabwriter"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"meshgym/sandbox/docker"
	"meshgym/sandbox/docker/images"
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
'images save' does not overwrite an existing FILE unless --force is given.

Exit codes: 0 done, 2 bad input (a file that cannot be read or written, an
existing FILE to save to without --force, a file to load that is not an
image archive), 3 Docker is not reachable or failed.`,
		Example: `  meshgym images build
  meshgym images save meshgym-images.tar
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
		&cobra.Command{
			Use:   "load FILE",
			Short: "Load images from a tarball written by 'meshgym images save'",
			Long: `Load the images in FILE, a tarball written by 'meshgym images save' (or
'docker save', also gzip- or bzip2-compressed), into Docker. FILE is
checked first: a file that is not a complete image archive exits 2 naming
it, before Docker is asked.`,
			Args: exactArgs(1, "FILE, a tarball written by 'meshgym images save'"),
			RunE: func(c *cobra.Command, args []string) error {
				if err := checkImageArchive(args[0]); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				return withDocker(c, func(cli *client.Client, _ string) error {
					refs, err := images.Load(c.Context(), cli, args[0])
					if err != nil {
						return fileErr(err)
					}
					for _, r := range refs {
						fmt.Fprintf(c.OutOrStdout(), "loaded %s\n", r)
					}
					return nil
				})
			},
		},
		&cobra.Command{
			Use:   "list",
			Short: "List meshgym's images present in Docker",
			Args:  exactArgs(0, "no arguments"),
			RunE: func(c *cobra.Command, _ []string) error {
				return withDocker(c, func(cli *client.Client, _ string) error {
					imgs, err := images.List(c.Context(), cli)
					if err != nil {
						return &exitError{code: exitPlatform, err: err}
					}
					out := c.OutOrStdout()
					if len(imgs) == 0 {
						fmt.Fprintln(out, "no meshgym images; 'meshgym images build' builds them (the first --platform docker run does too)")
						return nil
					}
					tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "IMAGE\tCOMPONENT\tSIZE\tCREATED")
					for _, im := range imgs {
						fmt.Fprintf(tw, "%s\t%s\t%.1f MB\t%s\n", im.Ref, im.Component, im.SizeMB, im.Created.Format("2006-01-02 15:04"))
					}
					return tw.Flush()
				})
			},
		},
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

// newImagesSaveCmd is `meshgym images save FILE [--force]`.
func newImagesSaveCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "save FILE",
		Short: "Write both images to one tarball (docker save), e.g. for USB sticks",
		Long: `Write meshgym's sample-app and sidecar images to FILE as one 'docker save'
tarball, for 'meshgym images load FILE' on machines without network.

An existing FILE is not overwritten: that exits 2 naming it, unless --force
is given. A FILE that exists and is not a regular file (a symbolic link, a
FIFO, a device such as /dev/null) is never replaced, not even with --force:
that exits 2. FILE "" and "-" (standard output) exit 2 too. The tarball is
written to a temporary file next to FILE first and renamed onto it when
complete, so an interrupted save leaves no half-written FILE.`,
		Args: exactArgs(1, "FILE, the tarball to write"),
		RunE: func(c *cobra.Command, args []string) error {
			file := args[0]
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
			return withDocker(c, func(cli *client.Client, _ string) error {
				if err := images.Save(c.Context(), cli, file); err != nil {
					return fileErr(err)
				}
				st, _ := os.Stat(file)
				app, sc := images.Refs()
				size := 0.0
				if st != nil {
					size = float64(st.Size()) / (1 << 20)
				}
				fmt.Fprintf(c.OutOrStdout(), "saved %s and %s to %s (%.1f MB)\n", app, sc, file, size)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite FILE when it exists")
	return c
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
