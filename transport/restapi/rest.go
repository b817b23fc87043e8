// Package restapi is the container transport over the REST API: commands run
// through the exec websockets, files move through the files API (large
// ones over the daemon's SFTP server, see sftp.go), and folders as one tar
// stream through exec (per file where the container has no tar).
package restapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	pathpkg "path"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/accounts"
	"github.com/lxkit/lxkit/internal/marker"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/transport"
)

// Transport runs commands and moves files in one container.
type Transport struct {
	c     *client.Client
	name  string
	user  string // default user: name or id, empty for root
	group string

	accounts *accounts.Resolver // shared by the transports of one container
}

var _ transport.Transport = (*Transport)(nil)

// New returns a transport for the named container.
func New(c *client.Client, name string) *Transport {
	t := &Transport{c: c, name: name}
	t.accounts = &accounts.Resolver{Where: name, Read: t.readSmall}
	return t
}

// As returns a transport whose commands run as user (and group, when not
// empty) and whose new files belong to them. user and group are names or
// numeric ids.
func (t *Transport) As(user, group string) transport.Transport {
	return &Transport{c: t.c, name: t.name, user: user, group: group, accounts: t.accounts}
}

// Name returns the container's name.
func (t *Transport) Name() string { return t.name }

// Exec runs a command in the container.
func (t *Transport) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if len(cmd.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	if err := shquote.CheckCommand(cmd.Args, cmd.Env); err != nil {
		return nil, t.execError(err)
	}
	id, err := t.identity(ctx, cmd.User, cmd.Group)
	if err != nil {
		return nil, err
	}
	req := api.InstanceExecPost{
		Command:     cmd.Args,
		Environment: id.Env(cmd.Env),
		Interactive: cmd.TTY,
		Width:       cmd.Size.Width,
		Height:      cmd.Size.Height,
		User:        uint32(id.UID),
		Group:       uint32(id.GID),
		Cwd:         id.Dir(cmd.Dir),
	}
	if cmd.TTY && req.Width == 0 {
		req.Width, req.Height = 80, 24
	}
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	out := transport.NewOutput(cmd)
	var code int
	if cmd.Capture && cmd.Stdin == nil && cmd.Stdout == nil && cmd.Stderr == nil && !cmd.TTY {
		// Output is wanted whole and nothing streams live: the daemon
		// records it to files, read once the command has ended. Without
		// Capture the websockets serve.
		code, err = t.execRecorded(ctx, req, out)
	} else {
		code, err = t.execStreamed(ctx, req, cmd, out)
	}
	if code < 0 {
		return nil, t.execError(err)
	}
	res := out.Result(code)
	if err != nil {
		return res, transport.TimeoutError(cmd, err)
	}
	return res, nil
}

func (t *Transport) execStreamed(ctx context.Context, req api.InstanceExecPost, cmd transport.Command, out *transport.Output) (int, error) {
	streams := client.ExecIO{Stdin: cmd.Stdin, Stdout: out.Stdout(), Stderr: out.Stderr(), KillGrace: transport.KillGrace}
	if cmd.Resize != nil {
		resize := make(chan client.WindowSize)
		go func() {
			defer close(resize)
			for sz := range cmd.Resize {
				select {
				case resize <- client.WindowSize{Width: sz.Width, Height: sz.Height}:
				case <-ctx.Done():
					return
				}
			}
		}()
		streams.Resize = resize
	}
	return t.c.Exec(ctx, t.name, req, streams)
}

// execRecorded runs a command with recorded output. Such a command has no
// control channel, so it carries a marker in its environment by which a
// second command finds and signals it when ctx ends.
func (t *Transport) execRecorded(ctx context.Context, req api.InstanceExecPost, out *transport.Output) (int, error) {
	m := marker.New()
	req.Environment[marker.Var] = m
	stop := func() {
		t.signalMarked(m, "TERM")
		time.AfterFunc(transport.KillGrace, func() { t.signalMarked(m, "KILL") })
	}
	return t.c.ExecRecorded(ctx, t.name, req, out.Stdout(), out.Stderr(), stop)
}

func (t *Transport) signalMarked(m, sig string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := api.InstanceExecPost{Command: marker.SignalArgv(m, sig)}
	_, _ = t.c.ExecRecorded(ctx, t.name, req, nil, nil, nil)
}

// ReadFile opens a file in the container.
// Symlinks are followed, as open(2) follows them: the files API answers
// a symlink with its target.
func (t *Transport) ReadFile(ctx context.Context, path string) (io.ReadCloser, error) {
	p := path
	for hops := 0; ; hops++ {
		rc, info, err := t.c.GetFile(ctx, t.name, p)
		if err != nil {
			return nil, err
		}
		switch info.Type {
		case client.FileTypeDirectory:
			rc.Close()
			return nil, fmt.Errorf("reading %s:%s: is a directory", t.name, path)
		case client.FileTypeSymlink:
			target, err := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			if err != nil {
				return nil, err
			}
			if hops == maxSymlinks {
				return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "reading %s:%s: too many levels of symbolic links", t.name, path)
			}
			p = resolveLink(p, string(target))
			continue
		}
		return t.readSFTP(ctx, p, rc, info), nil
	}
}

// maxSymlinks is how many symlinks ReadFile follows, as Linux's limit.
const maxSymlinks = 40

// resolveLink is where the symlink at link, whose target is target,
// points.
func resolveLink(link, target string) string {
	if pathpkg.IsAbs(target) {
		return pathpkg.Clean(target)
	}
	return pathpkg.Join(pathpkg.Dir(link), target)
}

// WriteFile creates or replaces a file in the container.
func (t *Transport) WriteFile(ctx context.Context, path string, r io.Reader, opts transport.FileOptions) error {
	put, err := t.filePut(ctx, opts)
	if err != nil {
		return err
	}
	if done, err := t.writeSFTP(ctx, path, r, put); done {
		return err
	}
	return t.c.PutFile(ctx, t.name, path, r, put)
}

// filePut fills in the defaults: mode 0644, owned by the transport's user.
func (t *Transport) filePut(ctx context.Context, opts transport.FileOptions) (client.FilePut, error) {
	put := client.FilePut{Mode: opts.Mode, UID: -1, GID: -1}
	if put.Mode == 0 {
		put.Mode = 0o644
	}
	if opts.UID == nil || opts.GID == nil {
		id, err := t.identity(ctx, "", "")
		if err != nil {
			return put, err
		}
		put.UID, put.GID = id.UID, id.GID
	}
	if opts.UID != nil {
		put.UID = *opts.UID
	}
	if opts.GID != nil {
		put.GID = *opts.GID
	}
	return put, nil
}

// identity resolves a user and group (names or ids; empty for the
// transport's defaults) into ids.
func (t *Transport) identity(ctx context.Context, user, group string) (accounts.Identity, error) {
	if user == "" {
		user = t.user
		if group == "" {
			group = t.group
		}
	}
	return t.accounts.Resolve(ctx, user, group)
}

// readSmall reads a whole (small) file of the container.
func (t *Transport) readSmall(ctx context.Context, p string) ([]byte, error) {
	rc, _, err := t.c.GetFile(ctx, t.name, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 16<<20))
}

// execError says which container a command failed to run in, or that
// there is no such container.
func (t *Transport) execError(err error) error { return hostapi.ExecFailed(err, t.name, t.c.Addr()) }
