package lxccmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/accounts"
	"github.com/lxkit/lxkit/internal/marker"
	"github.com/lxkit/lxkit/internal/pause"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/transport"
)

// Transport runs commands and moves files in one container of a Runner's host:
// `lxc exec` for commands, `lxc file push -`/`pull ... -` for files and a
// tar stream through exec for folders. Nothing is stored on the machines
// in between.
type Transport struct {
	h           *Runner
	name        string
	user, group string
	accounts    *accounts.Resolver // shared by the transports of one container
}

var _ transport.Transport = (*Transport)(nil)

// Container returns a transport into the named container of h.
func (h *Runner) Container(name string) *Transport {
	t := &Transport{h: h, name: name}
	t.accounts = &accounts.Resolver{Where: name, Read: func(ctx context.Context, p string) ([]byte, error) {
		return transport.ReadAll(ctx, t, p)
	}}
	return t
}

// As returns a transport whose commands run as user (and group, when not
// empty) and whose new files belong to them.
func (t *Transport) As(user, group string) transport.Transport {
	c := *t
	c.user, c.group = user, group
	return &c
}

// Name returns the container's name.
func (t *Transport) Name() string { return t.name }

// Exec runs a command in the container through `lxc exec`. A command
// whose output is only captured runs with its output recorded by the
// daemon instead (through `lxc query`): the lxc and incus clients can drop
// the streamed output of a quick command under load (see
// client.websocket), the recorded output never.
func (t *Transport) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if len(cmd.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	// `lxc exec` sends argv and environment as JSON, which would silently
	// turn invalid UTF-8 into U+FFFD.
	if err := shquote.CheckCommand(cmd.Args, cmd.Env); err != nil {
		return nil, t.execError(err)
	}
	user, group := cmd.User, cmd.Group
	if user == "" {
		user, group = t.user, t.group
	}
	id, err := t.accounts.Resolve(ctx, user, group)
	if err != nil {
		return nil, err
	}
	// The same environment and directory as the REST transport gives.
	req := api.InstanceExecPost{Command: cmd.Args, Environment: id.Env(cmd.Env),
		User: uint32(id.UID), Group: uint32(id.GID), Cwd: id.Dir(cmd.Dir), Interactive: cmd.TTY}
	m := marker.New()
	req.Environment[marker.Var] = m
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	out := transport.NewOutput(cmd)

	// When ctx ends, the command is signalled by its marker inside the
	// container (TERM, then KILL): killing only the local `lxc` would
	// leave it running. The outer command ends with it; should it not, it
	// is cancelled after a while.
	outerCtx, cancelOuter := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelOuter()
	stop := t.stopOnDone(ctx, m, cancelOuter)
	var code int
	if cmd.Capture && cmd.Stdin == nil && cmd.Stdout == nil && cmd.Stderr == nil && !cmd.TTY {
		code, err = t.execRecorded(outerCtx, req, out)
	} else {
		code, err = t.execStreamed(outerCtx, req, cmd, out)
	}
	stop()
	if err != nil {
		return nil, t.h.OnMember(ctx, t.name, err)
	}
	res := out.Result(code)
	if ctx.Err() != nil {
		return res, transport.TimeoutError(cmd, ctx.Err())
	}
	return res, nil
}

// stopOnDone signals the marked command when ctx ends; the returned func
// ends the watch once the command is over.
func (t *Transport) stopOnDone(ctx context.Context, m string, cancelOuter func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t.signal(m, "TERM")
		select {
		case <-done:
			return
		case <-time.After(transport.KillGrace):
		}
		t.signal(m, "KILL")
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancelOuter()
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (t *Transport) execStreamed(ctx context.Context, req api.InstanceExecPost, cmd transport.Command, out *transport.Output) (int, error) {
	mode := "--mode=non-interactive"
	if cmd.TTY {
		mode = "--mode=interactive"
	}
	args := []string{"exec", t.h.Target(t.name), mode,
		"--user", strconv.Itoa(int(req.User)), "--group", strconv.Itoa(int(req.Group))}
	if req.Cwd != "" {
		args = append(args, "--cwd", req.Cwd)
	}
	keys := make([]string, 0, len(req.Environment))
	for k := range req.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--env", k+"="+req.Environment[k])
	}
	args = append(args, "--")
	run := transport.Command{Stdin: cmd.Stdin, Stdout: out.Stdout(), Stderr: out.Stderr(),
		TTY: cmd.TTY, Size: cmd.Size, Resize: cmd.Resize}
	var stdout, stderr *readyFilter
	if cmd.TTY {
		if run.Size.Width == 0 {
			run.Size = transport.WindowSize{Width: 80, Height: 24}
		}
		args = append(args, req.Command...)
	} else {
		// Held until lxc reads both streams (see readyGate).
		ready := "lxkit-ready-" + req.Environment[marker.Var]
		gate := newReadyGate(ready, cmd.Stdin)
		defer gate.close()
		stdout, stderr = gate.filter(run.Stdout), gate.holdingFilter(run.Stderr)
		run.Stdin, run.Stdout, run.Stderr = gate, stdout, stderr
		args = append(append(args, "/bin/sh", "-c", readyScript, ready), req.Command...)
	}
	run.Args = t.h.argv(args...)
	// lxc waits for the exec's operation through the events websocket
	// and can miss its end (hostapi.OperationEndLost): the operation,
	// found by the command's marker, is watched on the side.
	lxcCtx, stopLxc := context.WithCancel(ctx)
	defer stopLxc()
	var res *transport.Result
	var err error
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		res, err = t.h.Exec(lxcCtx, run)
	}()
	marked := func(op api.Operation) bool {
		env, _ := op.Metadata["environment"].(map[string]any)
		return env != nil && env[marker.Var] == req.Environment[marker.Var]
	}
	missed := t.h.WatchOperation(ctx, ended, marked, stopLxc)
	<-ended
	if missed != nil {
		// The output came through before the operation ended; its
		// exit code is the operation's.
		code, ok := hostapi.ExitCode(missed)
		if stdout != nil {
			err = errors.Join(stdout.flush(), stderr.flush())
		}
		if !ok {
			err = errors.Join(err, fmt.Errorf("%s missed the end of the exec's operation %s, which has no exit code (%s)", t.h.name(), missed.ID, missed.Status))
		}
		if err != nil {
			return -1, t.execError(err)
		}
		return code, nil
	}
	if err == nil {
		// lxc's own error, the command never having begun: lxkit's
		// error says it, not lxc's line as well.
		if failure := t.execFailure(res, stderr.began()); failure != nil && (stderr == nil || stderr.discard()) {
			if stdout != nil {
				_ = stdout.flush()
			}
			return -1, failure
		}
	}
	if stdout != nil {
		err = errors.Join(err, stdout.flush(), stderr.flush())
	}
	if err != nil {
		return -1, t.execError(err)
	}
	if err := t.execFailure(res, stderr.began()); err != nil {
		return -1, err
	}
	return res.ExitCode, nil
}

// lookupScript looks the program $1 up in PATH itself, as the exec API
// does: a shell such as busybox ash would otherwise run its own applet of
// that name. It runs it with exec, so that it is the command's own
// process.
const lookupScript = `case $1 in
*/*) ;;
*)
  lxkit_p=
  IFS=:
  for lxkit_d in $PATH; do
    if [ -f "$lxkit_d/$1" ] && [ -x "$lxkit_d/$1" ]; then lxkit_p=$lxkit_d/$1; break; fi
  done
  unset IFS
  if [ -z "$lxkit_p" ]; then echo "$1: command not found" >&2; exit 127; fi
  shift
  set -- "$lxkit_p" "$@"
  ;;
esac
exec "$@"`

// captureScript runs "$@" with stdout and stderr in files named $0.out
// and $0.err in /var/tmp, or in /tmp where there is no /var/tmp to write
// in. Not /tmp first: Debian's systemd empties /tmp while the container
// boots (tmpfiles.d/tmp.conf "D /tmp", systemd-tmpfiles-setup --boot
// --remove, systemd 252 of bookworm), and a command run as it started lost
// its output files (TestCloudConfigModes/lxd/cli, ci83: the outputs of
// cloud-config's first command "Not Found"; TestCaptureSurvivesTmpCleanup).
// systemd's own tmpfiles configuration cleans /var/tmp by age only.
const captureScript = `lxkit_d=/var/tmp; [ -d $lxkit_d ] && [ -w $lxkit_d ] || lxkit_d=/tmp
exec >"$lxkit_d/$0.out" 2>"$lxkit_d/$0.err" || exit 125
` + lookupScript

// captureDirs are where captureScript may write, in its order.
var captureDirs = [2]string{"/var/tmp", "/tmp"}

// readyScript writes the line $0 on stdout and stderr, reads one line of
// input, and only then runs "$@" (see readyGate).
const readyScript = `printf '%s\n' "$0"; printf '%s\n' "$0" >&2; read -r lxkit_go || exit 125
` + lookupScript

// execRecorded runs a command whose output is only captured without any
// exec stream, which LXD 5.0 and Incus 6.0 can leave unanswered or cut
// when many run at once: the command runs through `lxc query` (no
// websockets) with its output written to files in the container, which
// then come back through the files API (see readRecorded) and are
// removed.
func (t *Transport) execRecorded(ctx context.Context, req api.InstanceExecPost, out *transport.Output) (int, error) {
	base := ".lxkit-exec-" + req.Environment[marker.Var]
	req.Command = append([]string{"/bin/sh", "-c", captureScript, base}, req.Command...)
	var leftovers []string
	for _, d := range captureDirs {
		leftovers = append(leftovers, d+"/"+base+".out", d+"/"+base+".err")
	}
	defer t.queryExec(context.WithoutCancel(ctx), api.InstanceExecPost{
		Command: append([]string{"rm", "-f"}, leftovers...), Environment: map[string]string{}})
	code, err := t.queryExec(ctx, req)
	if err != nil {
		if c, ok := commandNotFound(err); ok {
			return c, nil
		}
		return -1, err
	}
	errs := make(chan error, 2)
	for _, f := range []struct {
		suffix string
		w      io.Writer
	}{{".out", out.Stdout()}, {".err", out.Stderr()}} {
		go func() {
			data, err := t.readCaptured(ctx, base+f.suffix)
			if err == nil {
				_, err = f.w.Write(data)
			}
			errs <- err
		}()
	}
	for range 2 {
		if e := <-errs; e != nil && err == nil {
			err = fmt.Errorf("exec in %s: capturing the output: %w", t.name, e)
		}
	}
	return code, err
}

// readCaptured reads the output file name that captureScript wrote: from
// the folder where this container's outputs were found last, else from
// each of captureDirs in turn.
func (t *Transport) readCaptured(ctx context.Context, name string) ([]byte, error) {
	dirs := captureDirs
	if last, ok := t.h.captureDirs.Load(t.name); ok && last.(string) != dirs[0] {
		dirs[0], dirs[1] = dirs[1], dirs[0]
	}
	data, err := t.readRecorded(ctx, dirs[0]+"/"+name)
	if errors.Is(err, errdefs.ErrNotFound) {
		if data, err2 := t.readRecorded(ctx, dirs[1]+"/"+name); err2 == nil {
			t.h.captureDirs.Store(t.name, dirs[1])
			return data, nil
		}
	}
	if err == nil {
		t.h.captureDirs.Store(t.name, dirs[0])
	}
	return data, err
}

// readRecorded reads a file of the container with `lxc file pull PATH -`
// whose output is captured, not streamed (Runner.Run): through a REST
// transport the daemon below then writes it to a file of its own, read
// once the command has ended. ReadFile's streamed output would cross
// Incus's exec websocket, whose stdout mirror (6.0.4, internal/linux
// execWrapper.Read) ends the stream without reading what the command
// wrote just before exiting when its 1 s poll has timed out just before:
// the file came back empty with no error (TestNested/incus/Transport/
// Concurrent, about 1 pull in 3000 under load; LXD 5.0.2 reads to EOF).
func (t *Transport) readRecorded(ctx context.Context, path string) ([]byte, error) {
	pull := func() ([]byte, error) {
		return t.h.Run(ctx, nil, "file", "pull", t.h.Target(t.name)+path, "-")
	}
	data, err := pull()
	// A pull that failed can be asked for again (see
	// hostapi.FileServerHiccup), and so can one cut short: the file is
	// whole and nothing writes it any more (hostapi.PullCut).
	again := func(err error) bool { return hostapi.FileServerHiccup.In(err) || hostapi.PullCut.In(err) }
	for tries := 1; err != nil && tries < 3 && again(err) && ctx.Err() == nil; tries++ {
		if pause.For(ctx, time.Duration(tries)*200*time.Millisecond) != nil {
			break
		}
		data, err = pull()
	}
	return data, t.fileError(path, err)
}

// queryExec runs a command through `lxc query` and returns its exit code.
func (t *Transport) queryExec(ctx context.Context, req api.InstanceExecPost) (int, error) {
	if err := shquote.CheckJSON(req.Command); err != nil {
		return -1, err
	}
	req.RecordOutput = false
	body, err := json.Marshal(req)
	if err != nil {
		return -1, err
	}
	path := hostapi.InstancePath(t.name, "exec")
	stdout, err := t.h.Run(ctx, nil, "query", "--wait", "-X", "POST", "--data", string(body), t.h.Target(path))
	if err != nil {
		if _, ok := commandNotFound(err); !ok && errors.Is(err, errdefs.ErrNotFound) {
			return -1, hostapi.NoInstance(t.name, t.h.Addr())
		}
		return -1, t.execError(err)
	}
	var op api.Operation
	if err := json.Unmarshal(stdout, &op); err != nil {
		return -1, fmt.Errorf("exec in %s: decoding the operation: %w", t.name, err)
	}
	if code, ok := hostapi.ExitCode(&op); ok {
		return code, nil
	}
	return -1, fmt.Errorf("exec in %s: the operation has no exit code", t.name)
}

// commandNotFound maps the daemon refusing to run a missing command (as
// Incus does) to exit code 127.
func commandNotFound(err error) (int, bool) {
	if hostapi.CommandNotFound.In(err) {
		return 127, true
	}
	return 0, false
}

// execFailure tells `lxc exec` failing (exit 1 and its own "Error: "
// line, such as a missing or stopped container) from the command failing.
// began says the command began (its marker came through): then a "not
// found" line is the command's own.
func (t *Transport) execFailure(res *transport.Result, began bool) error {
	if res.ExitCode != 1 {
		return nil
	}
	tail := bytes.TrimSpace(res.Tail)
	i := bytes.LastIndexByte(tail, '\n')
	if !bytes.HasPrefix(tail[i+1:], []byte("Error: ")) {
		return nil
	}
	err := t.h.classify(1, tail[i+1:])
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrUnavailable,
		errdefs.ErrForbidden, errdefs.ErrUnauthorized} {
		if errors.Is(err, class) {
			if class == errdefs.ErrNotFound && began {
				return nil
			}
			if class == errdefs.ErrNotFound {
				return hostapi.NoInstance(t.name, t.h.Addr())
			}
			return t.execError(err)
		}
	}
	return nil
}

// signal sends sig to the processes of the command marked m.
func (t *Transport) signal(m, sig string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := append([]string{"exec", t.h.Target(t.name), "--mode=non-interactive", "--"}, marker.SignalArgv(m, sig)...)
	_, _ = t.h.Run(ctx, nil, args...)
}

// ReadFile streams a file out of the container with `lxc file pull PATH -`.
// A missing file is reported here, not at the first Read. A symlink is
// followed, as open(2) follows it: `incus file pull` of one to standard
// output fails, so it is resolved in the container and pulled again.
func (t *Transport) ReadFile(ctx context.Context, path string) (io.ReadCloser, error) {
	r, err := t.pull(ctx, path)
	// A pull that failed before its first byte can be asked for again.
	for tries := 1; err != nil && tries < 3 && hostapi.FileServerHiccup.In(err) && ctx.Err() == nil; tries++ {
		if pause.For(ctx, time.Duration(tries)*200*time.Millisecond) != nil {
			break
		}
		r, err = t.pull(ctx, path)
	}
	if err == nil || !hostapi.SymlinkPull.In(err) {
		return r, err
	}
	out, rerr := transport.Run(ctx, t, "readlink", "-f", "--", path)
	target := strings.TrimSuffix(out, "\n")
	if rerr != nil || target == "" || target == path {
		return nil, err
	}
	return t.pull(ctx, target)
}

func (t *Transport) pull(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := absolute(path); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	first := &firstWrite{w: pw, started: make(chan struct{})}
	r := &pullReader{pr: pr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var stderr bytes.Buffer
		res, err := t.h.Exec(ctx, transport.Command{
			Args:   t.h.argv("file", "pull", t.h.Target(t.name)+path, "-"),
			Stdout: first, Stderr: &stderr})
		if err == nil {
			err = t.fileError(path, t.h.classify(res.ExitCode, stderr.Bytes()))
		}
		r.err = err
		pw.CloseWithError(err)
	}()
	select {
	case <-first.started:
	case <-r.done:
		if r.err != nil {
			cancel()
			return nil, r.err
		}
	}
	return r, nil
}

// fileError names the file and the container in a classified error.
func (t *Transport) fileError(path string, err error) error {
	if err == nil {
		return nil
	}
	if missing := hostapi.InstanceMissing(err, t.name, t.h.Addr()); missing != err {
		return missing
	}
	return fmt.Errorf("%s:%s: %w", t.name, path, err)
}

// execError says which container a command failed to run in, or that
// there is no such container.
func (t *Transport) execError(err error) error { return hostapi.ExecFailed(err, t.name, t.h.Addr()) }

type pullReader struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (r *pullReader) Read(p []byte) (int, error) { return r.pr.Read(p) }

func (r *pullReader) Close() error {
	r.pr.Close()
	r.cancel()
	<-r.done
	return nil
}

// firstWrite closes started at the first write.
type firstWrite struct {
	w       io.Writer
	once    sync.Once
	started chan struct{}
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.started) })
	return f.w.Write(p)
}

// WriteFile streams r into a file with `lxc file push - PATH`.
func (t *Transport) WriteFile(ctx context.Context, path string, r io.Reader, opts transport.FileOptions) error {
	if err := absolute(path); err != nil {
		return err
	}
	id, err := t.owner(ctx, opts)
	if err != nil {
		return err
	}
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	push := func() error {
		_, err := t.h.Run(ctx, r, "file", "push", "-", t.h.Target(t.name)+path,
			"--mode", fmt.Sprintf("%04o", mode), "--uid", strconv.Itoa(id.UID), "--gid", strconv.Itoa(id.GID))
		return err
	}
	// Push again when the daemon failed to reach its file server and the
	// input can be read again (see hostapi.FileServerHiccup).
	var start int64
	seeker, canSeek := r.(io.Seeker)
	if canSeek {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			canSeek = false
		}
	}
	err = push()
	if err != nil && canSeek && hostapi.FileServerHiccup.In(err) && ctx.Err() == nil {
		if _, serr := seeker.Seek(start, io.SeekStart); serr == nil {
			err = push()
		}
	}
	return t.fileError(path, err)
}

// owner fills in a file's owner: the options', else the transport's user.
func (t *Transport) owner(ctx context.Context, opts transport.FileOptions) (accounts.Identity, error) {
	var id accounts.Identity
	if opts.UID == nil || opts.GID == nil {
		var err error
		if id, err = t.accounts.Resolve(ctx, t.user, t.group); err != nil {
			return id, err
		}
	}
	if opts.UID != nil {
		id.UID = *opts.UID
	}
	if opts.GID != nil {
		id.GID = *opts.GID
	}
	return id, nil
}

func absolute(path string) error {
	if !strings.HasPrefix(path, "/") {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "path %q: give an absolute path", path)
	}
	return nil
}

// UploadFolder copies a local folder into remoteDir as one tar stream
// through exec, or per file where the container has no tar. Files belong
// to the transport's user.
func (t *Transport) UploadFolder(ctx context.Context, local, remoteDir string) error {
	id, err := t.owner(ctx, transport.FileOptions{})
	if err != nil {
		return err
	}
	err = transport.UploadFolderTar(ctx, t, local, remoteDir, transport.FolderOptions{UID: id.UID, GID: id.GID})
	if errors.Is(err, transport.ErrNoTar) {
		return transport.UploadFolderPerFile(ctx, t, local, remoteDir, id.UID, id.GID)
	}
	return err
}

// DownloadFolder copies a folder of the container into localDir, as one
// tar stream or, without tar in the container, per file.
func (t *Transport) DownloadFolder(ctx context.Context, remote, localDir string) (transport.FolderSummary, error) {
	sum, err := transport.DownloadFolderTar(ctx, t, remote, localDir)
	if errors.Is(err, transport.ErrNoTar) {
		return transport.DownloadFolderPerFile(ctx, t, remote, localDir)
	}
	return sum, err
}
