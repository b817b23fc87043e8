// Package local is the transport for this machine: commands run as child
// processes (as another user through their credentials when asked) and
// files and folders move through the local filesystem, with the same
// semantics as the container transport.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/lxkit/lxkit/internal/tarx"
	"github.com/lxkit/lxkit/transport"
)

// Transport runs commands and moves files on this machine.
type Transport struct {
	user, group string // empty: the current process's
}

var (
	_ transport.Transport        = (*Transport)(nil)
	_ transport.Impersonator     = (*Transport)(nil)
	_ transport.FolderUploader   = (*Transport)(nil)
	_ transport.FolderDownloader = (*Transport)(nil)
)

// New returns a transport acting as the current process's user.
func New() *Transport { return &Transport{} }

// As returns a transport whose commands run as user (and group, when not
// empty) and whose new files belong to them. user and group are names or
// numeric ids. Acting as another user needs root.
func (t *Transport) As(user, group string) transport.Transport {
	return &Transport{user: user, group: group}
}

// identity is a resolved user and group.
type identity struct {
	other    bool // someone else than the current process
	uid, gid int
	name     string
	home     string
}

// identity resolves user and group (names or ids; empty for the
// transport's defaults).
func (t *Transport) identity(userName, group string) (identity, error) {
	if userName == "" {
		userName = t.user
		if group == "" {
			group = t.group
		}
	}
	id := identity{uid: os.Getuid(), gid: os.Getgid()}
	if userName != "" {
		id.other = true
		u, err := lookupUser(userName)
		if err != nil {
			return identity{}, err
		}
		id.name, id.home = u.Username, u.HomeDir
		id.uid, _ = strconv.Atoi(u.Uid)
		id.gid, _ = strconv.Atoi(u.Gid)
	}
	if group != "" {
		id.other = true
		gid, err := lookupGroup(group)
		if err != nil {
			return identity{}, err
		}
		id.gid = gid
	}
	return id, nil
}

func lookupUser(name string) (*user.User, error) {
	if n, err := strconv.Atoi(name); err == nil {
		u, err := user.LookupId(name)
		if err != nil {
			// A numeric id without an account is still a valid identity.
			return &user.User{Uid: name, Gid: strconv.Itoa(n)}, nil
		}
		return u, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("no user %q on this machine: %w", name, err)
	}
	return u, nil
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("no group %q on this machine: %w", name, err)
	}
	return strconv.Atoi(g.Gid)
}

// Exec runs a command on this machine.
func (t *Transport) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if len(cmd.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id, err := t.identity(cmd.User, cmd.Group)
	if err != nil {
		return nil, err
	}
	env := os.Environ()
	if id.other && id.name != "" {
		env = append(env, "USER="+id.name, "LOGNAME="+id.name)
		if id.home != "" {
			env = append(env, "HOME="+id.home)
		}
	}
	for k, v := range cmd.Env {
		env = append(env, k+"="+v)
	}
	dir := cmd.Dir
	if dir == "" && id.other && id.home != "" {
		if fi, err := os.Stat(id.home); err == nil && fi.IsDir() {
			dir = id.home
		}
	}
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("exec %v: %w", cmd.Args, err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("exec %v: %s is not a directory", cmd.Args, dir)
		}
	}
	out := transport.NewOutput(cmd)
	path, err := lookPath(cmd.Args[0], cmd.Env)
	if err != nil {
		fmt.Fprintf(out.Stderr(), "%s: command not found\n", cmd.Args[0])
		return out.Result(127), nil
	}
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	c := &exec.Cmd{Path: path, Args: cmd.Args, Env: env, Dir: dir, SysProcAttr: &syscall.SysProcAttr{}}
	if id.other {
		c.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(id.uid), Gid: uint32(id.gid), Groups: []uint32{}}
	}
	var code int
	var cancelled bool
	if cmd.TTY {
		code, cancelled, err = t.runTTY(ctx, c, cmd, out)
	} else {
		code, cancelled, err = t.runPipes(ctx, c, cmd, out)
	}
	if code < 0 {
		return nil, fmt.Errorf("exec %v: %w", cmd.Args, err)
	}
	res := out.Result(code)
	if cancelled {
		return res, transport.TimeoutError(cmd, ctx.Err())
	}
	if err != nil {
		return res, fmt.Errorf("exec %v: %w", cmd.Args, err)
	}
	return res, nil
}

// lookPath finds a program like a shell would, with the command's PATH
// when it sets one.
func lookPath(name string, env map[string]string) (string, error) {
	p, ok := env["PATH"]
	if !ok || strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	for _, d := range filepath.SplitList(p) {
		if d == "" {
			d = "."
		}
		if f, err := exec.LookPath(filepath.Join(d, name)); err == nil {
			return f, nil
		}
	}
	return "", exec.ErrNotFound
}

// startErr turns a start failure into a shell's exit code, or -1.
func startErr(err error) int {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return 127
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC):
		return 126
	}
	return -1
}

// stdinPipe feeds r to the child through a pipe that is not waited for:
// a reader that never ends does not hold up the command's end.
func stdinPipe(r io.Reader) (child *os.File, stop func(), err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return pr, func() { pw.Close() }, nil
}

// watch signals the process group of c when ctx ends: SIGTERM, then
// SIGKILL after the grace. The returned stop reports whether it did.
func (t *Transport) watch(ctx context.Context, c *exec.Cmd) (stop func() bool) {
	done := make(chan struct{})
	var fired atomic.Bool
	var mu sync.Mutex
	var timer *time.Timer
	pid := c.Process.Pid
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			fired.Store(true)
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			mu.Lock()
			timer = time.AfterFunc(transport.KillGrace, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
			mu.Unlock()
		}
	}()
	return func() bool {
		close(done)
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		return fired.Load()
	}
}

func exitCode(c *exec.Cmd) int {
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return c.ProcessState.ExitCode()
}

func (t *Transport) runPipes(ctx context.Context, c *exec.Cmd, cmd transport.Command, out *transport.Output) (int, bool, error) {
	c.Stdout, c.Stderr = out.Stdout(), out.Stderr()
	c.SysProcAttr.Setpgid = true
	c.WaitDelay = transport.KillGrace
	stopStdin := func() {}
	if cmd.Stdin != nil {
		child, stop, err := stdinPipe(cmd.Stdin)
		if err != nil {
			return -1, false, err
		}
		defer child.Close()
		c.Stdin, stopStdin = child, stop
	}
	if err := c.Start(); err != nil {
		stopStdin()
		if code := startErr(err); code >= 0 {
			fmt.Fprintln(out.Stderr(), err)
			return code, false, nil
		}
		return -1, false, err
	}
	if f, ok := c.Stdin.(*os.File); ok {
		f.Close()
	}
	stop := t.watch(ctx, c)
	err := c.Wait()
	cancelled := stop()
	stopStdin()
	var ee *exec.ExitError
	if errors.As(err, &ee) || errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return exitCode(c), cancelled, err
}

func (t *Transport) runTTY(ctx context.Context, c *exec.Cmd, cmd transport.Command, out *transport.Output) (int, bool, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return -1, false, err
	}
	defer ptmx.Close()
	size := cmd.Size
	if size.Width == 0 || size.Height == 0 {
		size = transport.WindowSize{Width: 80, Height: 24}
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(size.Width), Rows: uint16(size.Height)}); err != nil {
		tty.Close()
		return -1, false, err
	}
	c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	c.SysProcAttr.Setsid = true
	c.SysProcAttr.Setctty = true
	err = c.Start()
	tty.Close()
	if err != nil {
		if code := startErr(err); code >= 0 {
			fmt.Fprintln(out.Stdout(), err)
			return code, false, nil
		}
		return -1, false, err
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out.Stdout(), ptmx) // ends with EIO once every holder of the tty is gone
	}()
	if cmd.Stdin != nil {
		go func() {
			if _, err := io.Copy(ptmx, cmd.Stdin); err == nil {
				_, _ = ptmx.Write([]byte{4}) // ^D: end of input on a terminal
			}
		}()
	}
	resizeDone := make(chan struct{})
	var resizing sync.WaitGroup
	defer func() { close(resizeDone); resizing.Wait() }() // before ptmx closes
	if cmd.Resize != nil {
		resizing.Add(1)
		go func() {
			defer resizing.Done()
			for {
				select {
				case sz, ok := <-cmd.Resize:
					if !ok {
						return
					}
					_ = pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(sz.Width), Rows: uint16(sz.Height)})
				case <-resizeDone:
					return
				}
			}
		}()
	}
	stop := t.watch(ctx, c)
	err = c.Wait()
	cancelled := stop()
	select {
	case <-copied:
	case <-time.After(transport.KillGrace):
		ptmx.Close()
		<-copied
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil
	}
	return exitCode(c), cancelled, err
}

// ReadFile opens a file on this machine.
func (t *Transport) ReadFile(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil {
		f.Close()
		return nil, err
	} else if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("reading %s: is a directory", path)
	}
	return f, nil
}

// WriteFile creates or replaces a file on this machine, owned by the
// transport's user unless opts say otherwise.
func (t *Transport) WriteFile(ctx context.Context, path string, r io.Reader, opts transport.FileOptions) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, err := t.identity("", "")
	if err != nil {
		return err
	}
	uid, gid := id.uid, id.gid
	if opts.UID != nil {
		uid = *opts.UID
	}
	if opts.GID != nil {
		gid = *opts.GID
	}
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if fi, err := f.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid || int(st.Gid) != gid {
			if err := f.Chown(uid, gid); err != nil {
				return err
			}
		}
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	_, err = io.Copy(f, ctxReader{ctx, r})
	return err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// UploadFolder copies the folder local into remoteDir, keeping its base
// name; what it creates belongs to the transport's user.
func (t *Transport) UploadFolder(ctx context.Context, local, remoteDir string) error {
	if _, err := os.Stat(local); err != nil {
		return err
	}
	id, err := t.identity("", "")
	if err != nil {
		return err
	}
	wopts := tarx.WriteOptions{UID: id.uid, GID: id.gid}
	xopts := tarx.ExtractOptions{Chown: id.other}
	if _, err := copyTree(ctx, local, remoteDir, wopts, xopts); err != nil {
		return fmt.Errorf("uploading %s to %s: %w", local, remoteDir, err)
	}
	return nil
}

// DownloadFolder copies the folder remote into localDir, keeping its base
// name. Nothing is written outside localDir.
func (t *Transport) DownloadFolder(ctx context.Context, remote, localDir string) (transport.FolderSummary, error) {
	if _, err := os.Stat(remote); err != nil {
		return transport.FolderSummary{}, err
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return transport.FolderSummary{}, err
	}
	sum, err := copyTree(ctx, remote, localDir, tarx.WriteOptions{}, tarx.ExtractOptions{})
	if err != nil {
		err = fmt.Errorf("downloading %s: %w", remote, err)
	}
	return sum, err
}

// copyTree streams src as tar into a safe extraction below dest.
func copyTree(ctx context.Context, src, dest string, wopts tarx.WriteOptions, xopts tarx.ExtractOptions) (transport.FolderSummary, error) {
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := tarx.Write(ctxWriter{ctx, pw}, src, wopts)
		pw.CloseWithError(err)
		written <- err
	}()
	sum, err := tarx.Extract(pr, filepath.Clean(dest), xopts)
	pr.CloseWithError(errors.New("extraction ended"))
	werr := <-written
	if err == nil && werr != nil {
		err = werr
	}
	if cerr := ctx.Err(); cerr != nil && err != nil {
		err = cerr
	}
	return transport.FolderSummary(sum), err
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
