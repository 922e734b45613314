package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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

Exit codes: 0 done, 2 bad input (a file that cannot be read or written),
3 Docker is not reachable or failed.`,
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
		&cobra.Command{
			Use:   "save FILE",
			Short: "Write both images to one tarball (docker save), e.g. for USB sticks",
			Args:  exactArgs(1, "FILE, the tarball to write"),
			RunE: func(c *cobra.Command, args []string) error {
				return withDocker(c, func(cli *client.Client, _ string) error {
					if err := images.Save(c.Context(), cli, args[0]); err != nil {
						return fileErr(err)
					}
					st, _ := os.Stat(args[0])
					app, sc := images.Refs()
					size := 0.0
					if st != nil {
						size = float64(st.Size()) / (1 << 20)
					}
					fmt.Fprintf(c.OutOrStdout(), "saved %s and %s to %s (%.1f MB)\n", app, sc, args[0], size)
					return nil
				})
			},
		},
		&cobra.Command{
			Use:   "load FILE",
			Short: "Load images from a tarball written by 'meshgym images save'",
			Args:  exactArgs(1, "FILE, a tarball written by 'meshgym images save'"),
			RunE: func(c *cobra.Command, args []string) error {
				if _, err := os.Stat(args[0]); err != nil {
					return usageErr("load %s: %v", args[0], errors.Unwrap(err))
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
