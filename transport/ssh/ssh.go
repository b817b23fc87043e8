// Package ssh is the transport for a machine reached over SSH: commands
// run through the login user's shell there, files move through cat and
// folders as tar streams, with the same semantics as transport/local. With
// it the CLI driver drives a host whose API is not exposed at all:
//
//	tr, err := ssh.Dial(ctx, ssh.Config{Host: "build1", User: "ci"})
//	defer tr.Close()
//	d, err := cli.New(ctx, tr, cli.Options{}) // runs lxc (or incus) on build1
//
// Security defaults are OpenSSH's: the host key must be in known_hosts (an
// unknown or changed key is refused, with no option to skip the check),
// only keys log in (the user's usual ~/.ssh/id_* and ssh-agent), and a key
// file others can read is refused. Nothing secret appears in an error.
//
// One SSH connection carries every call, each in its own session, so a
// Transport is safe for concurrent use. The connection is probed every 30
// seconds; when it is lost, the calls on it fail with
// errdefs.ErrUnavailable and the next call dials again (the host's key
// checked again).
//
// Each call starts the login shell, so its start-up files count: bash run
// by sshd sources ~/.bashrc, whose time adds to every call and whose
// output, should it print any, to every command's.
//
// Limits: the login shell on the host must be a POSIX shell (sh, bash,
// dash, zsh, ash), as every argument crosses it quoted by internal/shquote;
// commands run as the login user only (Command.User and Group are refused
// with errdefs.ErrNotImplemented: log in as that user instead); argv and
// environment must be valid UTF-8 without NUL, as over the container
// transports. The OpenSSH client configuration is read (see
// Config.ConfigFiles), but not every keyword of it: see the README.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/marker"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/transport"
)

// Transport runs commands and moves files on a machine over one SSH
// connection, dialled again when it was lost.
type Transport struct {
	cfg   Config        // resolved: port, user, timeout filled in
	hops  []Config      // jump hosts, first hop first
	slots chan struct{} // one per session in flight, but the reserved one

	mu      sync.Mutex  // held while the link is replaced
	link    *link       // the connection now
	closing atomic.Bool // Close was called

	trace func(Sweep) // told of each sweep, when set (tests)
}

// link is one SSH connection, and those to its jump hosts.
type link struct {
	client  *gossh.Client
	dead    chan struct{} // closed when the connection has ended
	deadErr error         // why, once dead is closed
}

var (
	_ transport.Transport        = (*Transport)(nil)
	_ transport.FolderDownloader = (*Transport)(nil)
)

// keepAlive is how often the connection is probed, and patience how long
// an answer may take before the connection counts as dead.
var keepAlive, patience = 30 * time.Second, 15 * time.Second

// Dial connects and logs in, through the jump hosts of cfg.ProxyJump if
// any. Fields cfg leaves empty come from the OpenSSH client configuration
// for cfg.Host (see Config.ConfigFiles). Errors match errdefs classes:
// ErrUnavailable for a host that refuses the connection, does not answer
// or is no SSH server (each with its own message); ErrForbidden for a
// host key that is unknown or changed (a *HostKeyError); ErrUnauthorized
// when the host refuses every key offered or there is none to offer; and
// ErrInvalidArgument for an unusable configuration or key file. A jump
// host's error names it.
func Dial(ctx context.Context, cfg Config) (*Transport, error) {
	c, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	hops, err := c.jumpHosts()
	if err != nil {
		return nil, err
	}
	n := c.MaxSessions - 1 // one kept aside for stopping commands
	if n < 1 {
		n = 1
	}
	t := &Transport{cfg: c, hops: hops, slots: make(chan struct{}, n)}
	if t.link, err = t.connect(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// connect dials the host, through its jump hosts, and starts watching the
// connection.
func (t *Transport) connect(ctx context.Context) (*link, error) {
	var jumps []*gossh.Client
	closeJumps := func() {
		for i := len(jumps) - 1; i >= 0; i-- {
			jumps[i].Close()
		}
	}
	dial := (&net.Dialer{}).DialContext
	for _, h := range t.hops {
		jc, err := connect(ctx, h, dial)
		if err != nil {
			closeJumps()
			return nil, fmt.Errorf("jump host %s: %w", h.URL(), err)
		}
		jumps = append(jumps, jc)
		dial = jc.DialContext
	}
	client, err := connect(ctx, t.cfg, dial)
	if err != nil {
		closeJumps()
		return nil, err
	}
	l := &link{client: client, dead: make(chan struct{})}
	go func() {
		l.deadErr = l.client.Wait()
		closeJumps()
		close(l.dead)
	}()
	go l.probe()
	return l, nil
}

// live returns the connection, dialling again if it was lost: commands
// that ran on the lost one have failed, later calls need not.
func (t *Transport) live(ctx context.Context) (*link, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.link
	if t.closing.Load() || !l.ended(0) {
		return l, nil
	}
	nl, err := t.connect(ctx)
	if err != nil {
		return l, fmt.Errorf("%w; dialling again: %w", t.lost(l), err)
	}
	t.link = nl
	return nl, nil
}

// prepare checks a configuration and fills in what it leaves empty: from
// the OpenSSH client configuration, then the defaults.
func (cfg Config) prepare() (Config, error) {
	if cfg.Host == "" {
		return cfg, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "ssh: no host given")
	}
	c, err := cfg.applySSHConfig()
	if err != nil {
		return c, err
	}
	c = c.resolved()
	if c.User == "" {
		return c, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "ssh: no user given and no local user name to default to")
	}
	return c, nil
}

// connect opens a connection with dial and logs in to the host of c (its
// configuration prepared).
func connect(ctx context.Context, c Config, dial func(context.Context, string, string) (net.Conn, error)) (*gossh.Client, error) {
	hk, err := newHostKeys(c)
	if err != nil {
		return nil, err
	}
	cr, err := loadCredentials(c)
	if err != nil {
		return nil, err
	}
	defer cr.close()
	var attempted atomic.Bool
	conf := &gossh.ClientConfig{
		User: c.User,
		// One method with every key: x/crypto tries each method once.
		Auth: []gossh.AuthMethod{gossh.PublicKeysCallback(func() ([]gossh.Signer, error) {
			attempted.Store(true)
			return cr.signers, nil
		})},
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms,
	}

	dctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	conn, err := dial(dctx, "tcp", c.addr())
	if err != nil {
		return nil, dialErr(ctx, dctx, c, err)
	}
	if d, ok := dctx.Deadline(); ok {
		_ = conn.SetDeadline(d) // a jump host's channel has none: the AfterFunc covers it
	}
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	sc, chans, reqs, err := gossh.NewClientConn(conn, c.addr(), conf)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		err = context.DeadlineExceeded
	}
	if err != nil {
		conn.Close()
		return nil, handshakeErr(ctx, c, err, hk.verified.Load(), attempted.Load(), cr)
	}
	_ = conn.SetDeadline(time.Time{})
	return gossh.NewClient(sc, chans, reqs), nil
}

// dialErr classifies a failed TCP connection.
func dialErr(ctx, dctx context.Context, c Config, err error) error {
	addr := c.addr()
	var dns *net.DNSError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("connecting to %s: %w", addr, ctx.Err())
	case errors.Is(err, syscall.ECONNREFUSED):
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "ssh: connection refused by %s: is sshd running there and listening on port %d?", addr, c.Port)
	case dctx.Err() != nil || isTimeout(err):
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "ssh: timed out after %s connecting to %s: is the host up and the port open?", c.Timeout, addr)
	case errors.As(err, &dns):
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "ssh: cannot resolve host name %q: %s", c.Host, dns.Err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return errdefs.Wrap(errdefs.ErrUnavailable, unwrapOp(err), "ssh: %s is unreachable", addr)
	}
	return errdefs.Wrap(errdefs.ErrUnavailable, unwrapOp(err), "ssh: connecting to %s", addr)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// handshakeErr classifies a failed SSH handshake or login.
func handshakeErr(ctx context.Context, c Config, err error, verified, attempted bool, cr *credentials) error {
	var hke *HostKeyError
	switch {
	case errors.As(err, &hke):
		return hke
	case ctx.Err() != nil:
		return fmt.Errorf("connecting to %s: %w", c.addr(), ctx.Err())
	case !verified && isTimeout(err):
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "ssh: no SSH handshake from %s within %s: is it an SSH server?", c.addr(), c.Timeout)
	case !verified:
		return errdefs.Wrap(errdefs.ErrUnavailable, err, "ssh: handshake with %s failed", c.addr())
	case isTimeout(err):
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "ssh: %s did not finish the login within %s", c.URL(), c.Timeout)
	}
	msg := fmt.Sprintf("ssh: %s refused every key offered: %s", c.URL(), strings.Join(cr.offered, ", "))
	if !attempted {
		msg = fmt.Sprintf("ssh: %s accepts no public key login for %s", c.addr(), c.User)
	}
	if len(cr.skipped) > 0 {
		msg += "; not offered: " + strings.Join(cr.skipped, "; ")
	}
	msg += fmt.Sprintf("; add one of the public keys to ~%s/.ssh/authorized_keys on the host", c.User)
	return errdefs.Wrap(errdefs.ErrUnauthorized, err, "%s", msg)
}

// probe sends keepalives; a connection that stops answering is closed,
// which fails whatever waits on it instead of hanging.
func (l *link) probe() {
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-l.dead:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				l.client.Close()
			}
		case <-time.After(patience):
			l.client.Close()
		case <-l.dead:
			return
		}
	}
}

// lost is the error for calls on a connection that has ended.
func (t *Transport) lost(l *link) error {
	if t.closing.Load() {
		return errdefs.Wrap(errdefs.ErrUnavailable, net.ErrClosed, "ssh: the connection to %s was closed", t.cfg.URL())
	}
	var err error = io.EOF
	select {
	case <-l.dead:
		if l.deadErr != nil {
			err = l.deadErr
		}
	default:
	}
	return errdefs.Wrap(errdefs.ErrUnavailable, err, "ssh: the connection to %s was lost", t.cfg.URL())
}

// ended reports whether the connection has ended, waiting up to patience
// for the library to notice: a session cut without an exit status is most
// often a connection going down.
func (l *link) ended(patience time.Duration) bool {
	select {
	case <-l.dead:
		return true
	default:
	}
	if patience <= 0 {
		return false
	}
	select {
	case <-l.dead:
		return true
	case <-time.After(patience):
		return false
	}
}

// Close closes the connection, and those to its jump hosts. Commands
// still running on it are ended by sshd as it would for a dropped
// connection.
func (t *Transport) Close() error {
	t.closing.Store(true)
	t.mu.Lock()
	l := t.link
	t.mu.Unlock()
	err := l.client.Close()
	<-l.dead
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Config returns the configuration in use, with its defaults filled in.
func (t *Transport) Config() Config { return t.cfg }

// String names the transport: ssh://USER@HOST:PORT.
func (t *Transport) String() string { return t.cfg.URL() }

// Exec runs a command on the host: `exec env VAR=... ARGV`, after `cd
// DIR &&`, through the login user's shell, every word quoted. A missing
// command exits 127, one killed by a signal 128+N. A missing Dir is the
// shell's failure to cd: a non-zero exit with its message in the Result.
// When ctx ends or Timeout passes, the command gets SIGTERM, then SIGKILL
// after a grace period (in the background when the command itself has
// ended by then): through the SSH signal request, which OpenSSH's sshd
// delivers to the command's process group (but refuses in root's
// sessions), and to every process that carries the command's marker in
// its environment, even those that left the group.
func (t *Transport) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if len(cmd.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := t.checkUser(cmd.User, cmd.Group); err != nil {
		return nil, err
	}
	m := marker.New()
	line, err := commandLine(cmd, m)
	if err != nil {
		return nil, fmt.Errorf("exec over %s: %w", t.cfg.URL(), err)
	}
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	s, err := t.open(ctx, false)
	if err == nil {
		defer s.close()
		size := cmd.Size
		if size.Width <= 0 || size.Height <= 0 {
			size = transport.WindowSize{Width: 80, Height: 24}
		}
		err = s.start(ctx, line, cmd.TTY, size, termName())
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, transport.TimeoutError(cmd, ctx.Err())
		}
		return nil, fmt.Errorf("exec %v: %w", cmd.Args, err)
	}

	out := transport.NewOutput(cmd)
	stdout, stderr := &latch{w: out.Stdout()}, &latch{w: out.Stderr()}
	copied := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = io.Copy(stdout, s.ch) }()
		go func() { defer wg.Done(); _, _ = io.Copy(stderr, s.ch.Stderr()) }()
		wg.Wait()
		close(copied)
	}()
	switch {
	case cmd.Stdin != nil:
		go func() {
			_, err := io.Copy(s.ch, cmd.Stdin)
			if !cmd.TTY {
				_ = s.ch.CloseWrite()
			} else if err == nil {
				_, _ = s.ch.Write([]byte{4}) // ^D: end of input on a terminal
			}
		}()
	case !cmd.TTY:
		_ = s.ch.CloseWrite()
	}
	if cmd.TTY && cmd.Resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-cmd.Resize:
					if !ok {
						return
					}
					s.resize(sz)
				case <-copied:
					return
				}
			}
		}()
	}

	st, got, cancelled := t.wait(ctx, s, m, copied)
	code := -1
	if got {
		code = st.exitCode()
	}
	res := out.Result(code)
	switch {
	case cancelled:
		return res, transport.TimeoutError(cmd, ctx.Err())
	case !got:
		if s.l.ended(time.Second) {
			return res, fmt.Errorf("exec %v: %w", cmd.Args, t.lost(s.l))
		}
		return res, errdefs.Wrap(errdefs.ErrUnavailable, nil, "exec %v: %s ended the session without an exit status", cmd.Args, t.cfg.URL())
	case stdout.err != nil || stderr.err != nil:
		return res, fmt.Errorf("exec %v: writing its output: %w", cmd.Args, errors.Join(stdout.err, stderr.err))
	}
	return res, nil
}

// wait waits for the command's end and then for its output, stopping it
// when ctx ends. got reports an exit status.
func (t *Transport) wait(ctx context.Context, s *session, m string, copied <-chan struct{}) (st exitStatus, got, cancelled bool) {
	var sweeps sync.WaitGroup
	defer sweeps.Wait()
	sweep := func(sig string) {
		sweeps.Add(1)
		go func() { defer sweeps.Done(); t.sweep(m, sig) }()
	}
	var termed time.Time
	killed := false
	select {
	case st = <-s.status:
		got = true
	case <-s.closed:
		st, got = received(s)
	case <-ctx.Done():
		cancelled, termed = true, time.Now()
		st, got, killed = t.stop(s, sweep)
	}
	// The output may still be arriving, or be held open by a process left
	// in the background: give it the grace period, then stop reading.
	select {
	case <-copied:
	case <-time.After(transport.KillGrace):
		if cancelled && !killed {
			sweep("KILL")
			killed = true
		}
		s.close()
		<-copied
	}
	if cancelled && !killed {
		// The command ended at SIGTERM, but a process of it that left
		// its group and ignores SIGTERM would live on: it gets SIGKILL at
		// the end of the grace period, as the group would have, without
		// holding up the return.
		time.AfterFunc(transport.KillGrace-time.Since(termed), func() {
			if !s.l.ended(0) {
				t.sweep(m, "KILL")
			} else if t.trace != nil {
				t.trace(Sweep{Signal: "KILL", Err: errors.New("not sent: the connection has ended")})
			}
		})
	}
	return st, got, cancelled
}

func received(s *session) (exitStatus, bool) {
	select {
	case st := <-s.status:
		return st, true
	default:
		return exitStatus{}, false
	}
}

// stop signals a command whose context ended: TERM, then KILL after the
// grace period, each to its process group and to its marked processes.
// killed reports whether it got to KILL.
func (t *Transport) stop(s *session, sweep func(sig string)) (st exitStatus, got, killed bool) {
	for _, step := range []struct {
		sig  string
		wait time.Duration
	}{{"TERM", transport.KillGrace}, {"KILL", 5 * time.Second}} {
		s.signal(step.sig)
		sweep(step.sig)
		killed = step.sig == "KILL"
		select {
		case st := <-s.status:
			return st, true, killed
		case <-s.closed:
			st, got := received(s)
			return st, got, killed
		case <-time.After(step.wait):
		}
	}
	return exitStatus{}, false, killed
}

// checkUser refuses to run as someone else than the login user: sshd
// already made the identity, and switching it (sudo, su) would need
// rights and a configuration this transport cannot assume.
func (t *Transport) checkUser(user, group string) error {
	if group == "" && (user == "" || user == t.cfg.User || (user == "0" && t.cfg.User == "root")) {
		return nil
	}
	return errdefs.Wrap(errdefs.ErrNotImplemented, nil,
		"the ssh transport runs commands as its login user %s only, not as user %q group %q: connect as that user instead (ssh://USER@%s)",
		t.cfg.User, user, group, t.cfg.Host)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// commandLine is the shell command line that runs cmd with marker m.
func commandLine(cmd transport.Command, m string) (string, error) {
	// The same check as the container transports: what could cross this
	// shell may not cross the next hop (lxc exec's JSON), and a command
	// should not work over one transport and fail over the other.
	if err := shquote.CheckCommand(cmd.Args, cmd.Env); err != nil {
		return "", err
	}
	if strings.Contains(cmd.Args[0], "=") {
		return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "program name %q holds '=', which env would take for a variable", cmd.Args[0])
	}
	keys := make([]string, 0, len(cmd.Env))
	for k := range cmd.Env {
		if !envName.MatchString(k) {
			return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "environment variable name %q: want letters, digits and _", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := []string{"env", marker.Var + "=" + m}
	for _, k := range keys {
		words = append(words, k+"="+cmd.Env[k])
	}
	words = append(words, cmd.Args...)
	line, err := shquote.Join(words)
	if err != nil {
		return "", err
	}
	line = "exec " + line
	if cmd.Dir != "" {
		dir, err := shquote.Quote(cmd.Dir)
		if err != nil {
			return "", fmt.Errorf("directory: %w", err)
		}
		line = "cd -- " + dir + " && " + line
	}
	return line, nil
}

// termName is the TERM a terminal is asked for.
func termName() string {
	if t := os.Getenv("TERM"); t != "" && t != "dumb" {
		return t
	}
	return "xterm-256color"
}

// latch passes writes on until one fails, then swallows the rest: the
// channel must be drained whatever the writer does, or the command would
// block on a full window.
type latch struct {
	w   io.Writer
	err error
}

func (l *latch) Write(p []byte) (int, error) {
	if l.err == nil {
		if _, err := l.w.Write(p); err != nil {
			l.err = err
		}
	}
	return len(p), nil
}
