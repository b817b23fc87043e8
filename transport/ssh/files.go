package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"sync"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/transport"
)

// readScript sends "." and the file, or exits with 2 (missing), 3 (a
// directory) or 4 (unreadable) before sending anything: ReadFile reports
// those at once, like os.Open, and then streams.
const readScript = `if [ -d "$f" ]; then exit 3; fi; [ -e "$f" ] || exit 2; [ -r "$f" ] || exit 4; printf .; exec cat <"$f"`

// ReadFile streams a file from the host with cat. A missing file is an
// error that matches both fs.ErrNotExist and errdefs.ErrNotFound, reported
// here rather than at the first Read; a relative path is relative to the
// login user's home. Ending ctx ends the stream.
func (t *Transport) ReadFile(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := shquote.Quote(path)
	if err != nil || path == "" {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "reading %q on %s: invalid path", path, t.cfg.URL())
	}
	s, err := t.open(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("reading %s on %s: %w", path, t.cfg.URL(), err)
	}
	if err := s.start(ctx, "f="+q+"; "+readScript, false, transport.WindowSize{}, ""); err != nil {
		s.close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	_ = s.ch.CloseWrite()
	r := &fileReader{s: s, ctx: ctx, path: path}
	r.stopCtx = context.AfterFunc(ctx, s.close)
	r.stderrDone = make(chan struct{})
	go func() {
		defer close(r.stderrDone)
		_, _ = io.Copy(&r.stderr, s.ch.Stderr())
	}()
	var first [1]byte
	_, err = io.ReadFull(s.ch, first[:])
	switch {
	case err == nil && first[0] == '.':
		return r, nil
	case err == nil:
		// Something printed before the script ran: the login shell's
		// start-up files, which would corrupt the file's content.
		r.Close()
		return nil, errdefs.Wrap(errdefs.ErrInternal, nil, "reading %s on %s: the login shell printed output of its own "+
			"before the command's (its start-up files, such as ~/.bashrc, must stay quiet when not interactive)", path, t.cfg.URL())
	}
	err = r.finish()
	r.Close()
	if err == nil {
		err = fmt.Errorf("reading %s on %s: the host sent no data", path, t.cfg.URL())
	}
	return nil, err
}

// fileReader is a file streamed from the host.
type fileReader struct {
	s          *session
	ctx        context.Context
	path       string
	stopCtx    func() bool
	stderr     tailBuffer
	stderrDone chan struct{}
	err        error // set once the stream has ended
	closeOnce  sync.Once
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.s.ch.Read(p)
	if err == io.EOF {
		if r.err = r.finish(); r.err == nil {
			r.err = io.EOF
		}
		return n, r.err
	}
	if err != nil {
		r.err = err
		if r.ctx.Err() != nil {
			r.err = r.ctx.Err()
		}
	}
	return n, r.err
}

// finish waits for cat's exit status once its output has ended and turns
// a failure into an error.
func (r *fileReader) finish() error {
	t := r.s.t
	var st exitStatus
	var got bool
	select {
	case st, got = <-r.s.status:
	case <-r.s.closed:
		st, got = received(r.s)
	}
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	if !got {
		if r.s.l.ended(time.Second) {
			return fmt.Errorf("reading %s: %w", r.path, t.lost(r.s.l))
		}
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "reading %s on %s: the session ended without an exit status", r.path, t.cfg.URL())
	}
	where := fmt.Sprintf("reading %s on %s", r.path, t.cfg.URL())
	switch st.exitCode() {
	case 0:
		return nil
	case 2:
		return errdefs.Wrap(errdefs.ErrNotFound, fs.ErrNotExist, "%s", where)
	case 3:
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: is a directory", where)
	case 4:
		return errdefs.Wrap(errdefs.ErrForbidden, fs.ErrPermission, "%s", where)
	}
	return fmt.Errorf("%s: %w", where, r.exitErr(st))
}

// exitErr waits a moment for the rest of stderr and makes the ExitError.
func (r *fileReader) exitErr(st exitStatus) error {
	select {
	case <-r.stderrDone:
	case <-time.After(time.Second):
	}
	return &transport.ExitError{Args: []string{"cat", r.path}, Code: st.exitCode(), Tail: r.stderr.bytes()}
}

func (r *fileReader) Close() error {
	r.closeOnce.Do(func() {
		r.stopCtx()
		r.s.close()
	})
	return nil
}

// writeScript creates the file for the login user only, gives it its
// owner, then its mode, and only then fills it: the content is never
// readable by more than the final mode allows. u and g are the owner
// asked for, empty for the login user's; an existing file is given back
// to the login user, as a new one would be.
func writeScript(mode fs.FileMode) string {
	return fmt.Sprintf(`umask 077
if [ -n "$u$g" ] || [ -e "$f" ]; then o=${u:-$(id -u)}:${g:-$(id -g)}; else o=; fi
: >>"$f" || exit 1
if [ -n "$o" ]; then chown -- "$o" "$f" || exit 1; fi
chmod -- %04o "$f" || exit 1
exec cat >"$f"`, mode)
}

// WriteFile creates or replaces a file on the host with `cat >`,
// streaming r into it, with opts' mode (0644 by default) and owner (by
// default the login user: changing it needs root there). A relative path
// is relative to the login user's home.
func (t *Transport) WriteFile(ctx context.Context, path string, r io.Reader, opts transport.FileOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q, err := shquote.Quote(path)
	if err != nil || path == "" {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, err, "writing %q on %s: invalid path", path, t.cfg.URL())
	}
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	var u, g string
	if opts.UID != nil {
		u = strconv.Itoa(*opts.UID)
	}
	if opts.GID != nil {
		g = strconv.Itoa(*opts.GID)
	}
	where := fmt.Sprintf("writing %s on %s", path, t.cfg.URL())
	line := "f=" + q + " u=" + u + " g=" + g + "; " + writeScript(mode)
	s, err := t.open(ctx, false)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer s.close()
	if err := s.start(ctx, line, false, transport.WindowSize{}, ""); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	stop := context.AfterFunc(ctx, s.close)
	defer stop()
	var stderr tailBuffer
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		go func() { _, _ = io.Copy(io.Discard, s.ch) }()
		_, _ = io.Copy(&stderr, s.ch.Stderr())
	}()
	src := &readErr{r: r}
	go func() {
		if _, err := io.Copy(s.ch, src); err == nil {
			_ = s.ch.CloseWrite() // end of input: cat finishes the file
		} else if src.failed() != nil {
			s.close() // never an end of input for a read that failed
		}
	}()
	var st exitStatus
	var got bool
	select {
	case st, got = <-s.status:
	case <-s.closed:
		st, got = received(s)
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case src.failed() != nil:
		return fmt.Errorf("%s: reading the input: %w", where, src.failed())
	case !got:
		if s.l.ended(time.Second) {
			return fmt.Errorf("%s: %w", where, t.lost(s.l))
		}
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: the session ended without an exit status", where)
	case st.exitCode() != 0:
		select {
		case <-drained:
		case <-time.After(time.Second):
		}
		return fmt.Errorf("%s: %w", where, &transport.ExitError{Args: []string{"cat", ">" + path}, Code: st.exitCode(), Tail: stderr.bytes()})
	}
	return nil
}

// readErr remembers a failed Read of the input.
type readErr struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
	}
	return n, err
}

func (r *readErr) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// DownloadFolder copies the folder remote into localDir as a tar stream
// through exec, into the safe extractor (see transport.DownloadFolderTar).
// A missing folder is an error that matches fs.ErrNotExist and
// errdefs.ErrNotFound.
func (t *Transport) DownloadFolder(ctx context.Context, remote, localDir string) (transport.FolderSummary, error) {
	sum, err := transport.DownloadFolderTar(ctx, t, remote, localDir)
	var ee *transport.ExitError
	if err != nil && errors.As(err, &ee) {
		res, perr := t.Exec(ctx, transport.Command{Args: []string{"/bin/sh", "-c", `[ -e "$1" ] || [ -h "$1" ]`, "sh", remote}})
		if perr == nil && res.ExitCode == 1 {
			return sum, errdefs.Wrap(errdefs.ErrNotFound, fs.ErrNotExist, "downloading %s from %s", remote, t.cfg.URL())
		}
	}
	return sum, err
}

// tailBuffer keeps the last transport.TailSize bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - transport.TailSize; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}
