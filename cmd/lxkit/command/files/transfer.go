package files

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/transport"
	"github.com/spf13/cobra"
)

// PushOptions are the inputs of `lxkit push`.
type PushOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Sources    []string // local paths
	Dest       Target
	Recursive  bool
	CreateDirs bool                  // make PATH's missing directories first
	File       transport.FileOptions // files only; a zero Mode keeps the local one
}

// NewCmdPush returns `lxkit push`.
func NewCmdPush(f *cmdutil.Factory, runF func(context.Context, *PushOptions) error) *cobra.Command {
	opts := &PushOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var ff *fileFlags
	cmd := &cobra.Command{
		Use:   "push [-r] [-p] LOCAL... NAME:PATH [--mode M] [--uid U] [--gid G]",
		Short: "Copy local files or folders into a container",
		Long: `Copy local files into a container.

Without -r, each LOCAL is a file. With one LOCAL, PATH is the new file's
name, unless it ends with '/'; then, as with several LOCALs, PATH is an
existing directory and the files keep their base names. Local modes are
kept, unless --mode says otherwise; --uid and --gid set the owner. -p
makes the missing directories of PATH first.

With -r, each LOCAL is a folder copied into PATH under its base name
(PATH is created if missing): 'push -r site web:/srv' makes /srv/site.
Modes, symlinks and empty directories are kept; files belong to root.`,
		Example: `  lxkit push app.conf web:/etc/app.conf
  lxkit push a.txt b.txt web:/tmp/
  lxkit push -r ./site web:/srv`,
		Args: cmdutil.MinimumArgs(2, "LOCAL... NAME:PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Sources = args[:len(args)-1]
			var err error
			if ff.given(cmd) && opts.Recursive {
				return cmdutil.FlagErrorf("--mode, --uid and --gid are for files: push -r keeps the folders' modes")
			}
			if opts.File, err = ff.read(cmd); err != nil {
				return err
			}
			if opts.Dest, err = ParseTarget(args[len(args)-1]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Recursive, "recursive", "r", false, "copy folders")
	cmd.Flags().BoolVarP(&opts.CreateDirs, "create-dirs", "p", false, "make the missing directories of PATH first")
	ff = addFileFlags(cmd, "the local file's")
	return cmd
}

func pushRun(ctx context.Context, opts *PushOptions) error {
	// Check every source before copying any.
	var total int64
	for _, src := range opts.Sources {
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		switch {
		case opts.Recursive && !fi.IsDir():
			return fmt.Errorf("%s is not a directory (push -r copies folders)", src)
		case !opts.Recursive && fi.IsDir():
			return fmt.Errorf("%s is a directory (use push -r)", src)
		case !opts.Recursive:
			total += fi.Size()
		}
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	t := d.Transport(opts.Dest.Name)
	if opts.Recursive {
		return pushFolders(ctx, opts, t)
	}
	toDir := len(opts.Sources) > 1 || strings.HasSuffix(opts.Dest.Path, "/")
	if opts.CreateDirs {
		dir := opts.Dest.Path
		if !toDir {
			dir = path.Dir(dir)
		}
		if _, err := transport.Run(ctx, t, "mkdir", "-p", dir); err != nil {
			return fmt.Errorf("making %s:%s: %w", opts.Dest.Name, dir, err)
		}
	}
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Pushing "+filepath.Base(opts.Sources[0]), true)
	defer p.Stop()
	p.SetTotal(total)
	ct := countingTransport{Transport: t, p: p}
	for _, src := range opts.Sources {
		remote := opts.Dest.Path
		if toDir {
			remote = path.Join(remote, filepath.Base(src))
		}
		p.SetLabel("Pushing " + filepath.Base(src))
		if err := transport.UploadFile(ctx, ct, src, remote, opts.File); err != nil {
			return err
		}
	}
	return nil
}

func pushFolders(ctx context.Context, opts *PushOptions, t transport.Transport) error {
	// Folders go through the transport's own strategy, which gives no
	// byte counts: the line shows the folder's size and the time spent.
	label := func(src string) string {
		files, size := folderSize(src)
		return fmt.Sprintf("Pushing %s (%d files, %s)", filepath.Base(src), files, cmdutil.HumanBytes(size))
	}
	p := cmdutil.StartProgress(opts.IO, opts.Globals, label(opts.Sources[0]), false)
	defer p.Stop()
	// Best effort: without mkdir in the container, the upload says what
	// is missing.
	_, _ = transport.Run(ctx, t, "mkdir", "-p", opts.Dest.Path)
	for i, src := range opts.Sources {
		if i > 0 {
			p.SetLabel(label(src))
		}
		if err := transport.UploadFolder(ctx, t, src, opts.Dest.Path); err != nil {
			return fmt.Errorf("pushing %s to %s: %w", src, opts.Dest, err)
		}
	}
	return nil
}

// folderSize counts the regular files below dir and their bytes.
func folderSize(dir string) (files int, size int64) {
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files++
				size += fi.Size()
			}
		}
		return nil
	})
	return files, size
}

// PullOptions are the inputs of `lxkit pull`.
type PullOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Sources   []Target
	Dest      string // local path
	Recursive bool
}

// NewCmdPull returns `lxkit pull`.
func NewCmdPull(f *cmdutil.Factory, runF func(context.Context, *PullOptions) error) *cobra.Command {
	opts := &PullOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "pull [-r] NAME:PATH... LOCAL",
		Short: "Copy files or folders out of containers",
		Long: `Copy files out of containers.

Without -r, each PATH is a file. With one PATH, LOCAL is the new file's name,
unless it is an existing directory or ends with '/'; then, as with several
PATHs, the files land in that directory under their base names.

With -r, each PATH is a folder copied into the directory LOCAL (created if
missing) under its base name. Nothing is ever written outside LOCAL.`,
		Example: `  lxkit pull web:/etc/hostname .
  lxkit pull web:/var/log/app.log app.log
  lxkit pull -r web:/srv/site ./backup`,
		Args: cmdutil.MinimumArgs(2, "NAME:PATH... LOCAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Sources = nil
			for _, a := range args[:len(args)-1] {
				src, err := ParseTarget(a)
				if err != nil {
					return err
				}
				opts.Sources = append(opts.Sources, src)
			}
			opts.Dest = args[len(args)-1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pullRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Recursive, "recursive", "r", false, "copy folders")
	return cmd
}

func pullRun(ctx context.Context, opts *PullOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	if opts.Recursive {
		return pullFolders(ctx, opts, d)
	}
	toDir := len(opts.Sources) > 1 || strings.HasSuffix(opts.Dest, "/")
	if fi, err := os.Stat(opts.Dest); err == nil && fi.IsDir() {
		toDir = true
	} else if toDir {
		return fmt.Errorf("%s: not a directory", opts.Dest)
	}
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Pulling "+path.Base(opts.Sources[0].Path), true)
	defer p.Stop()
	for _, src := range opts.Sources {
		local := opts.Dest
		if toDir {
			local = filepath.Join(local, path.Base(src.Path))
		}
		p.SetLabel("Pulling " + path.Base(src.Path))
		ct := countingTransport{Transport: d.Transport(src.Name), p: p}
		if err := transport.DownloadFile(ctx, ct, src.Path, local); err != nil {
			return err
		}
	}
	return nil
}

func pullFolders(ctx context.Context, opts *PullOptions, d driver.Driver) error {
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Pulling "+path.Base(opts.Sources[0].Path), false)
	defer p.Stop()
	for _, src := range opts.Sources {
		p.SetLabel("Pulling " + path.Base(src.Path))
		sum, err := transport.DownloadFolder(ctx, d.Transport(src.Name), src.Path, opts.Dest)
		if err != nil {
			return fmt.Errorf("pulling %s: %w", src, err)
		}
		if n := len(sum.Skipped); n > 0 && !opts.Globals.Quiet {
			p.Stop()
			fmt.Fprintf(opts.IO.ErrOut, "Warning: %s: skipped %d special files (devices, fifos): %s\n",
				src, n, strings.Join(sum.Skipped, ", "))
		}
	}
	return nil
}

// countingTransport counts the bytes of the files it reads and writes into
// a Progress.
type countingTransport struct {
	transport.Transport
	p *cmdutil.Progress
}

func (c countingTransport) ReadFile(ctx context.Context, p string) (io.ReadCloser, error) {
	rc, err := c.Transport.ReadFile(ctx, p)
	if err != nil {
		return nil, err
	}
	return countingDownload{&countingReadCloser{ReadCloser: rc, p: c.p}}, nil
}

func (c countingTransport) WriteFile(ctx context.Context, p string, r io.Reader, opts transport.FileOptions) error {
	cr := &countingReadCloser{ReadCloser: io.NopCloser(r), p: c.p}
	if f, ok := r.(statter); ok {
		// The size of a local file lets the transport pick its fastest way.
		return c.Transport.WriteFile(ctx, p, countingUpload{cr, f}, opts)
	}
	return c.Transport.WriteFile(ctx, p, cr, opts)
}

type statter interface{ Stat() (os.FileInfo, error) }

type countingUpload struct {
	*countingReadCloser
	f statter
}

func (u countingUpload) Stat() (os.FileInfo, error) { return u.f.Stat() }

// countingDownload keeps the WriteTo of the transport's reader, by which
// io.Copy takes the transport's fastest way, and counts what it writes.
type countingDownload struct{ *countingReadCloser }

func (d countingDownload) WriteTo(w io.Writer) (int64, error) {
	cw := countingWriter{w: w, p: d.p}
	if wt, ok := d.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(cw)
	}
	return io.Copy(cw, struct{ io.Reader }{d.ReadCloser})
}

type countingWriter struct {
	w io.Writer
	p *cmdutil.Progress
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.Add(int64(n))
	return n, err
}

type countingReadCloser struct {
	io.ReadCloser
	p *cmdutil.Progress
}

func (r *countingReadCloser) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	r.p.Add(int64(n))
	return n, err
}
