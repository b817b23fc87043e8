package image

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
)

// ManageOptions are the inputs of list, show, delete, alias, publish and
// copy.
type ManageOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)
	// ClientFor connects to copy's destination.
	ClientFor func(context.Context, string) (*client.Client, error)
	// ImageSource finds a remote to list images of (list REMOTE:).
	ImageSource func(ctx context.Context, name string) (host.ImageSource, bool, error)

	Args       []string
	Aliases    []string
	Public     bool
	Snapshot   string
	To         string
	Properties map[string]string
}

// ManageCmds returns list, show, delete, alias, publish and copy.
func ManageCmds(f *cmdutil.Factory, runF func(context.Context, string, *ManageOptions) error) []*cobra.Command {
	mk := func(use, short, long, example string, args cobra.PositionalArgs, run func(context.Context, *ManageOptions) error) (*cobra.Command, *ManageOptions) {
		opts := &ManageOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, ClientFor: f.ClientFor, ImageSource: f.ImageSource}
		name := strings.Fields(use)[0]
		cmd := &cobra.Command{
			Use: use, Short: short, Long: long, Example: example, Args: args,
			RunE: func(cmd *cobra.Command, a []string) error {
				opts.Args = a
				if runF != nil {
					return runF(cmd.Context(), name, opts)
				}
				return run(cmd.Context(), opts)
			},
		}
		opts.Driver = cmdutil.OnFlag(cmd.Flags(), opts.Driver)
		return cmd, opts
	}
	list, _ := mk("list [REMOTE:][PREFIX] [KEY=VALUE]...", "List the host's images, or a remote's (those whose alias or fingerprint starts with PREFIX)",
		`List the host's images, or with REMOTE: those of one of lxkit's, lxc's or
incus's remotes: an image server (simplestreams: lxkit reads its index) or
another host. PREFIX keeps the images one of whose aliases, or whose
fingerprint, starts with it; KEY=VALUE keeps those whose property (os,
release, variant, architecture...) or type has that value.`,
		`  lxkit image list
  lxkit image list myimages: os=Debian
  lxkit image list lab:web`,
		cmdutil.MinimumArgs(0, "at most a prefix, then KEY=VALUE filters"), listRun)
	show, _ := mk("show REF", "Print an image's details (REF: an alias, or a fingerprint or a unique prefix of one)", "", "",
		cmdutil.ExactArgs(1, "one image"), showRun)
	del, _ := mk("delete REF...", "Delete images (a missing one is not an error)", "", "",
		cmdutil.MinimumArgs(1, "at least one image"), deleteRun)
	publish, popts := mk("publish INSTANCE [--alias A]...", "Make an image of a stopped container (or of one of its snapshots)", "",
		"  lxkit image publish web1 --alias web-golden\n  lxkit image publish web1 --snapshot snap0 --alias web-snap0",
		cmdutil.ExactArgs(1, "one container"), publishRun)
	publish.Flags().StringArrayVar(&popts.Aliases, "alias", nil, "alias of the new image, repeatable (moved from another image if it names one)")
	publish.Flags().StringVar(&popts.Snapshot, "snapshot", "", "publish this snapshot of the container")
	publish.Flags().BoolVar(&popts.Public, "public", false, "make the image public (downloadable without trust)")
	copyCmd, copts := mk("copy REF --to HOST [--alias A]...", "Copy an image to another host, which pulls it over HTTPS",
		`Copy an image to the host --to names (a remote, a socket or https://...). The
destination daemon downloads it straight from this host over HTTPS with a
one-time secret, so this host must listen on HTTPS where the destination can
reach it ('lxkit listen'). An image the destination has already is not copied
again; its aliases are still set.`,
		"  lxkit image copy web-golden --to lab --alias web-golden",
		cmdutil.ExactArgs(1, "one image"), copyRun)
	copyCmd.Flags().StringVar(&copts.To, "to", "", "the destination host (required)")
	copyCmd.Flags().StringArrayVar(&copts.Aliases, "alias", nil, "alias to set on the destination, repeatable")
	copyCmd.Flags().BoolVar(&copts.Public, "public", false, "make the copy public")
	return []*cobra.Command{list, show, del, newCmdAlias(mk), publish, copyCmd}
}

func newCmdAlias(mk func(string, string, string, string, cobra.PositionalArgs, func(context.Context, *ManageOptions) error) (*cobra.Command, *ManageOptions)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias <command>",
		Short: "Manage image aliases",
		Args:  cmdutil.ExactArgs(0, "a subcommand: list, create, move, rename or delete"),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	list, _ := mk("list", "List image aliases", "", "", cmdutil.ExactArgs(0, "no arguments"), aliasListRun)
	create, _ := mk("create NAME REF", "Make NAME an alias of an image (an alias of another image is refused)", "", "",
		cmdutil.ExactArgs(2, "NAME REF"), func(ctx context.Context, o *ManageOptions) error {
			return withImages(ctx, o, func(im *host.Images) error { return im.CreateAlias(ctx, o.Args[0], o.Args[1], "") })
		})
	move, _ := mk("move NAME REF", "Make NAME an alias of an image, wherever it pointed", "", "",
		cmdutil.ExactArgs(2, "NAME REF"), func(ctx context.Context, o *ManageOptions) error {
			return withImages(ctx, o, func(im *host.Images) error { return im.MoveAlias(ctx, o.Args[0], o.Args[1]) })
		})
	rename, _ := mk("rename NAME NEW", "Rename an image alias", "", "",
		cmdutil.ExactArgs(2, "NAME NEW"), func(ctx context.Context, o *ManageOptions) error {
			return withImages(ctx, o, func(im *host.Images) error { return im.RenameAlias(ctx, o.Args[0], o.Args[1]) })
		})
	del, _ := mk("delete NAME...", "Delete image aliases (not their images; a missing one is not an error)", "", "",
		cmdutil.MinimumArgs(1, "at least one alias"), func(ctx context.Context, o *ManageOptions) error {
			return withImages(ctx, o, func(im *host.Images) error {
				for _, a := range o.Args {
					if err := im.DeleteAlias(ctx, a); err != nil {
						return err
					}
				}
				return nil
			})
		})
	cmd.AddCommand(list, create, move, rename, del)
	return cmd
}

func withImages(ctx context.Context, o *ManageOptions, do func(*host.Images) error) error {
	d, err := o.Driver(ctx)
	if err != nil {
		return err
	}
	return do(host.New(d.API()).Images())
}

// aliasNames is an image's aliases, comma-separated.
func aliasNames(img api.Image) string {
	var names []string
	for _, a := range img.Aliases {
		names = append(names, a.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func listRun(ctx context.Context, o *ManageOptions) error {
	prefix, props := "", map[string]string{}
	for i, a := range o.Args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case ok:
			props[k] = v
		case i == 0:
			prefix = a
		default:
			return cmdutil.FlagErrorf("image list: %q: expected KEY=VALUE after the prefix", a)
		}
	}
	remote, rest, onRemote := strings.Cut(prefix, ":")
	if !onRemote {
		return withImages(ctx, o, func(im *host.Images) error {
			all, err := im.List(ctx)
			if err != nil {
				return err
			}
			return printImages(o, all, prefix, props)
		})
	}
	src, ok, err := o.ImageSource(ctx, remote)
	if err != nil {
		return err
	}
	if !ok {
		return cmdutil.FlagErrorf("image list %s: no remote %s (lxkit remote list)", prefix, remote)
	}
	var all []api.Image
	switch {
	case src.Host != nil:
		all, err = src.Host.Images().List(ctx)
	case src.Server.Protocol == host.ProtocolSimpleStreams:
		all, err = host.ServerImages(ctx, *src.Server)
	default:
		err = errdefs.Wrap(errdefs.ErrNotImplemented, nil, "remote %s: a public lxd-protocol image server cannot be listed by lxkit; launch its images by alias", remote)
	}
	if err != nil {
		return err
	}
	return printImages(o, all, rest, props)
}

// printImages prints the images that match prefix (an alias's or the
// fingerprint's) and props (properties, or the type).
func printImages(o *ManageOptions, all []api.Image, prefix string, props map[string]string) error {
	imgs := []api.Image{}
	for _, img := range all {
		match := strings.HasPrefix(img.Fingerprint, strings.ToLower(prefix))
		for _, a := range img.Aliases {
			match = match || strings.HasPrefix(a.Name, prefix)
		}
		for k, v := range props {
			match = match && (img.Properties[k] == v || k == "type" && img.Type == v || k == "architecture" && img.Architecture == v)
		}
		if match {
			imgs = append(imgs, img)
		}
	}
	sort.Slice(imgs, func(i, j int) bool {
		if a, b := aliasNames(imgs[i]), aliasNames(imgs[j]); a != b {
			return a < b
		}
		return imgs[i].Fingerprint < imgs[j].Fingerprint
	})
	return cmdutil.Print(o.IO, o.Globals.Format, imgs, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "ALIASES\tFINGERPRINT\tDESCRIPTION\tSIZE\tUPLOADED")
		for _, img := range imgs {
			when := img.UploadedAt
			if when.IsZero() { // an image server's: when it was built
				when = img.CreatedAt
			}
			fmt.Fprintf(tw, "%s\t%.12s\t%s\t%.1fMB\t%s\n", aliasNames(img), img.Fingerprint, img.Properties["description"],
				float64(img.Size)/1e6, when.UTC().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	})
}

func showRun(ctx context.Context, o *ManageOptions) error {
	return withImages(ctx, o, func(im *host.Images) error {
		img, err := im.Get(ctx, o.Args[0])
		if err != nil {
			return err
		}
		format := o.Globals.Format
		if format == cmdutil.FormatTable {
			format = cmdutil.FormatYAML
		}
		return cmdutil.Print(o.IO, format, img, nil)
	})
}

func deleteRun(ctx context.Context, o *ManageOptions) error {
	return withImages(ctx, o, func(im *host.Images) error {
		for _, ref := range o.Args {
			if err := im.Delete(ctx, ref); err != nil {
				return err
			}
		}
		return nil
	})
}

func aliasListRun(ctx context.Context, o *ManageOptions) error {
	return withImages(ctx, o, func(im *host.Images) error {
		aliases, err := im.Aliases(ctx)
		if err != nil {
			return err
		}
		sort.Slice(aliases, func(i, j int) bool { return aliases[i].Name < aliases[j].Name })
		return cmdutil.Print(o.IO, o.Globals.Format, aliases, func(w io.Writer) error {
			tw := cmdutil.NewTable(w)
			fmt.Fprintln(tw, "ALIAS\tFINGERPRINT\tDESCRIPTION")
			for _, a := range aliases {
				fmt.Fprintf(tw, "%s\t%.12s\t%s\n", a.Name, a.Target, a.Description)
			}
			return tw.Flush()
		})
	})
}

func publishRun(ctx context.Context, o *ManageOptions) error {
	return withImages(ctx, o, func(im *host.Images) error {
		label := "Publishing " + o.Args[0]
		p := cmdutil.StartProgress(o.IO, o.Globals, label, false)
		fp, err := im.Publish(ctx, o.Args[0], host.PublishOptions{
			Snapshot: o.Snapshot, Aliases: o.Aliases, Public: o.Public, Progress: p.Daemon(label),
		})
		p.Stop()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.IO.Out, fp)
		return err
	})
}

func copyRun(ctx context.Context, o *ManageOptions) error {
	if o.To == "" {
		return cmdutil.FlagErrorf("--to is required")
	}
	dst, err := o.ClientFor(ctx, o.To)
	if err != nil {
		return fmt.Errorf("--to %s: %w", o.To, err)
	}
	return withImages(ctx, o, func(im *host.Images) error {
		label := "Copying " + o.Args[0]
		p := cmdutil.StartProgress(o.IO, o.Globals, label, false)
		fp, err := im.CopyTo(ctx, host.New(dst), o.Args[0], host.CopyOptions{
			Aliases: o.Aliases, Public: o.Public, Progress: p.Daemon(label),
		})
		p.Stop()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.IO.Out, fp)
		return err
	})
}
