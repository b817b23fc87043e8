package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/transport"
)

// session is one SSH session channel, which runs one command. It is built
// on the raw channel rather than on x/crypto's Session so that the exit
// status is seen as soon as it arrives, before the output ends: a process
// left in the background that holds the output open must not hold up the
// command's end (os/exec's WaitDelay does the same on this machine).
type session struct {
	t       *Transport
	l       *link // the connection it is on
	ch      gossh.Channel
	status  chan exitStatus // receives the exit status or signal, once
	closed  chan struct{}   // closed when the server has closed the channel
	release func()          // gives the session slot back
	once    sync.Once
}

// exitStatus is how the remote command ended.
type exitStatus struct {
	code   int
	signal string // "TERM", "KILL"...: killed by this signal
}

// exitCode is the code a shell would give: 128+N for a signal.
func (st exitStatus) exitCode() int {
	if st.signal == "" {
		return st.code
	}
	if n := unix.SignalNum("SIG" + st.signal); n != 0 {
		return 128 + int(n)
	}
	return 128
}

// open opens a session channel, on a new connection if the last one was
// lost, even while opening: no command has started then. reserved
// sessions (stopping a cancelled command) do not wait for a slot, one is
// kept aside for them, and never dial again: what they would stop ended
// with its connection.
func (t *Transport) open(ctx context.Context, reserved bool) (*session, error) {
	release := func() {}
	if !reserved {
		select {
		case t.slots <- struct{}{}:
			release = func() { <-t.slots }
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	t.mu.Lock()
	l := t.link
	t.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if !reserved {
			var err error
			if l, err = t.live(ctx); err != nil {
				release()
				return nil, err
			}
		}
		ch, reqs, err := t.openChannel(ctx, l)
		if err == nil {
			s := &session{t: t, l: l, ch: ch, status: make(chan exitStatus, 1), closed: make(chan struct{}), release: release}
			go s.handle(reqs)
			return s, nil
		}
		if errors.Is(err, errLinkDown) {
			l.ended(time.Second) // the reason it ended, once the library has noticed
			if !reserved && attempt == 0 {
				continue
			}
			err = t.lost(l)
		}
		release()
		return nil, err
	}
}

// errLinkDown is a session that could not be opened because the
// connection went down.
var errLinkDown = errors.New("connection down")

// openChannel opens a session channel on l.
func (t *Transport) openChannel(ctx context.Context, l *link) (gossh.Channel, <-chan *gossh.Request, error) {
	type opened struct {
		ch   gossh.Channel
		reqs <-chan *gossh.Request
		err  error
	}
	// sshd refuses sessions beyond its MaxSessions ("open failed"), and
	// counts a closed session until its process has exited: ask again,
	// for a while.
	deadline := time.Now().Add(openPatience)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		res := make(chan opened, 1)
		go func() {
			ch, reqs, err := l.client.OpenChannel("session", nil)
			res <- opened{ch, reqs, err}
		}()
		var o opened
		select {
		case o = <-res:
		case <-ctx.Done():
			go func() {
				if o := <-res; o.err == nil {
					o.ch.Close()
					go gossh.DiscardRequests(o.reqs)
				}
			}()
			return nil, nil, ctx.Err()
		}
		if o.err == nil {
			return o.ch, o.reqs, nil
		}
		var oe *gossh.OpenChannelError
		refused := errors.As(o.err, &oe)
		if !refused || l.ended(0) {
			return nil, nil, errLinkDown
		}
		if time.Now().After(deadline) {
			return nil, nil, errdefs.Wrap(errdefs.ErrUnavailable, o.err, "ssh: %s refused to open a session for %s: "+
				"its MaxSessions (10 by default) may be lower than the %d sessions this transport keeps open at most",
				t.cfg.URL(), openPatience, t.cfg.MaxSessions)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// openPatience is how long a session the server refuses is asked for.
var openPatience = 30 * time.Second

// handle reads the channel's requests: the exit status or signal.
func (s *session) handle(reqs <-chan *gossh.Request) {
	defer close(s.closed)
	sent := false
	send := func(st exitStatus) {
		if !sent {
			sent = true
			s.status <- st
		}
	}
	for r := range reqs {
		switch r.Type {
		case "exit-status":
			var msg struct{ Status uint32 }
			if gossh.Unmarshal(r.Payload, &msg) == nil {
				send(exitStatus{code: int(msg.Status)})
			}
		case "exit-signal":
			var msg struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}
			if gossh.Unmarshal(r.Payload, &msg) == nil {
				send(exitStatus{code: -1, signal: msg.Signal})
			}
		default:
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
}

// close closes the channel and gives its slot back; it may be called
// more than once.
func (s *session) close() {
	s.once.Do(func() {
		s.ch.Close()
		s.release()
	})
}

// request sends a channel request; with wantReply, a refusal is an error.
func (s *session) request(name string, wantReply bool, payload any) error {
	var data []byte
	if payload != nil {
		data = gossh.Marshal(payload)
	}
	ok, err := s.ch.SendRequest(name, wantReply, data)
	if err == nil && wantReply && !ok {
		err = fmt.Errorf("the SSH server refused the %s request", name)
	}
	return err
}

// start asks for a terminal when tty is set and runs line. A context
// that ends meanwhile closes the channel.
func (s *session) start(ctx context.Context, line string, tty bool, size transport.WindowSize, term string) error {
	stop := context.AfterFunc(ctx, s.close)
	defer stop()
	if tty {
		// RFC 4254 6.2; the terminal modes are left to the server
		// (only TTY_OP_END).
		req := struct {
			Term                         string
			Columns, Rows, Width, Height uint32
			Modes                        string
		}{term, uint32(size.Width), uint32(size.Height), uint32(size.Width * 8), uint32(size.Height * 16), "\x00"}
		if err := s.request("pty-req", true, req); err != nil {
			return s.startErr(ctx, err)
		}
	}
	if err := s.request("exec", true, struct{ Command string }{line}); err != nil {
		return s.startErr(ctx, err)
	}
	return nil
}

func (s *session) startErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		s.l.ended(time.Second) // the reason it ended, once the library has noticed
		return s.t.lost(s.l)
	}
	return fmt.Errorf("%s: %w", s.t.cfg.URL(), err)
}

// signal sends sig ("TERM", "KILL") to the command. OpenSSH's sshd sends
// it to the command's whole process group.
func (s *session) signal(sig string) {
	_ = s.request("signal", false, struct{ Signal string }{sig})
}

// resize tells the server the terminal's new size.
func (s *session) resize(sz transport.WindowSize) {
	_ = s.request("window-change", false, struct {
		Columns, Rows, Width, Height uint32
	}{uint32(sz.Width), uint32(sz.Height), uint32(sz.Width * 8), uint32(sz.Height * 16)})
}
