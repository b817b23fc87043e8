package declare

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/fleet"
)

// NewCmdConfigure returns `lxkit configure`.
func NewCmdConfigure(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := namesCmd(opts, "configure -f FILE NAME... [--force]", "Apply the cloud-config files of a configuration to existing instances again",
		`Apply each instance's cloud-config files again, as up applied them when it
launched it (lxkit's subset, through the API), and record them. Files whose
content is as it was when they were last applied are not applied again, so
a second configure changes nothing; --force applies them anyway (runcmd runs
again). It prints, for each instance, the files and the steps it applied, or
that there was nothing to do. A missing instance is an error, and so is a
stopped one. plan sees a change in the files, and apply applies them again
too.`,
		`  lxkit configure -f web.yaml web1 web2
  lxkit configure -f web.yaml --force web1`,
		false, runF, configureRun)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "apply the files even when they are as last applied")
	return cmd
}

func configureRun(ctx context.Context, opts *Options) error {
	ts, err := targets(ctx, opts, opts.Names)
	if err != nil {
		return err
	}
	type row struct {
		Instance string   `json:"instance"`
		Files    []string `json:"files"`
		Applied  bool     `json:"applied"`
		Steps    []string `json:"steps"`
	}
	var rows []row
	for i, t := range ts {
		p := cmdutil.StartProgress(opts.IO, opts.Globals, "Configuring "+opts.Names[i], false)
		done, err := t.m.Configure(ctx, t.spec, fleet.ConfigureOptions{Force: opts.Force})
		p.Stop()
		if err != nil {
			return err
		}
		rows = append(rows, row{opts.Names[i], done.Files, done.Applied, done.Steps})
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, rows, func(w io.Writer) error {
		for _, r := range rows {
			var err error
			files := strings.Join(r.Files, ", ")
			switch {
			case len(r.Files) == 0:
				_, err = fmt.Fprintf(w, "%s: no cloud-config files: nothing to do\n", r.Instance)
			case !r.Applied:
				_, err = fmt.Fprintf(w, "%s: %s as last applied: nothing to do (--force applies them again)\n", r.Instance, files)
			default:
				_, err = fmt.Fprintf(w, "%s: applied %s (%d steps)\n", r.Instance, files, len(r.Steps))
				for _, s := range r.Steps {
					if err == nil {
						_, err = fmt.Fprintf(w, "  %s\n", s)
					}
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// NewCmdDiff returns `lxkit diff`.
func NewCmdDiff(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	return namesCmd(opts, "diff -f FILE NAME...", "Show how instances differ from their configuration file",
		`Compare each instance with what the configuration file says of it and print
the difference as a unified diff of YAML: "-" lines are the instance's, "+"
lines the file's. Compared are the image (the first digits of the fingerprint
the file's image has on the host, against the one the instance was made
from; an image on a server without a fingerprint is not compared), the
profiles (not when the file names none), the configuration (not the daemon's
volatile.* and image.* keys, nor lxkit's user.lxkit.* records), the
instance's own devices, volumes as disks included, and the custom volumes
(their pool, name and the configuration keys the file sets; a missing one
shows as added). Changes inside profiles and cloud-config files are plan's.

As diff(1), it prints nothing and exits 0 when they are the same, exits 1
when any differs, and 2 on trouble (a missing instance, a bad file).`,
		`  lxkit diff -f web.yaml web1
  lxkit diff -f web.yaml web1 web2 || lxkit up -f web.yaml web1 web2`,
		false, runF, diffRun)
}

func diffRun(ctx context.Context, opts *Options) error {
	ts, err := targets(ctx, opts, opts.Names)
	if err != nil {
		return cmdutil.Trouble(err)
	}
	differ := false
	for i, t := range ts {
		have, want, err := t.m.Views(ctx, t.spec)
		if err != nil {
			return cmdutil.Trouble(err)
		}
		d, err := cmdutil.WriteDiff(opts.IO.Out, opts.Names[i]+" (instance)", have, opts.Names[i]+" ("+opts.File+")", want)
		if err != nil {
			return cmdutil.Trouble(err)
		}
		differ = differ || d
	}
	if differ {
		return cmdutil.Differ
	}
	return nil
}
