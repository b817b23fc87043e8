package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// ExitCommandNotFound is the exit code of a command that does not exist,
// on both daemons.
const ExitCommandNotFound = 127

// WindowSize is a terminal size in characters.
type WindowSize struct{ Width, Height int }

// ExecIO holds the streams of a command run by Exec. A nil reader reads
// nothing; a nil writer discards. In interactive mode stdout and stderr
// arrive merged on Stdout.
type ExecIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Resize carries new terminal sizes for an interactive command.
	Resize <-chan WindowSize
	// KillGrace is how long a command may take to exit after SIGTERM once
	// ctx has ended, before it gets SIGKILL. Zero means 2 seconds.
	KillGrace time.Duration
}

// Exec runs a command in an instance, streaming its input and output, and
// returns its exit code. When ctx ends the command gets SIGTERM, then
// SIGKILL after KillGrace; Exec then returns the exit code with ctx's error.
// A command that does not exist exits with ExitCommandNotFound.
func (c *Client) Exec(ctx context.Context, name string, req api.InstanceExecPost, streams ExecIO) (int, error) {
	req.WaitForWS, req.RecordOutput = true, false
	names := []string{"control", "0", "1", "2"}
	if req.Interactive {
		names = []string{"control", "0"}
	}
	var s *execSession
	for attempt := 1; ; attempt++ {
		op, code, err := c.startExec(ctx, name, req)
		if op == nil {
			return code, err
		}
		fds, err := execSecrets(op)
		if err != nil {
			return -1, err
		}
		s = &execSession{c: c, op: op}
		err = s.connect(ctx, fds, names)
		if err == nil {
			break
		}
		s.closeAll()
		c.cancel(op)
		// The daemons leave every handshake of an operation unanswered
		// while another client holds their socket's accept loop (see New).
		// The command starts only once all its sockets are there, so while
		// the last one has not been tried it has not run: ask again, with a
		// new operation, for up to about a minute.
		var late *lateSocket
		if ctx.Err() != nil || attempt == 10 || !errors.As(err, &late) || late.last {
			return -1, err
		}
		select { // a stalled daemon has been seen to take half a minute
		case <-time.After(min(time.Duration(attempt)*500*time.Millisecond, 3*time.Second)):
		case <-ctx.Done():
			return -1, err
		}
	}
	defer s.closeAll()

	var outputs sync.WaitGroup
	if req.Interactive {
		outputs.Add(1)
		go func() { defer outputs.Done(); s.errs.add(readStream(s.conns["0"], streams.Stdout)) }()
		go func() { s.errs.add(writeStream(s.conns["0"], streams.Stdin, false)) }()
	} else {
		outputs.Add(2)
		go func() { defer outputs.Done(); s.errs.add(readStream(s.conns["1"], streams.Stdout)) }()
		go func() { defer outputs.Done(); s.errs.add(readStream(s.conns["2"], streams.Stderr)) }()
		go func() { s.errs.add(writeStream(s.conns["0"], streams.Stdin, true)) }()
	}

	stopControl := s.control(ctx, streams)
	var resent resentRequest
	done, waitErr := c.Wait(httptrace.WithClientTrace(context.WithoutCancel(ctx), resent.trace()), s.op)
	stopControl()
	code := exitCode(done)
	if resent.seen.Load() && waitErr == nil {
		// The daemons end a command whose control socket drops
		// (hostapi.ExecEndsOnLostControl): its exit code is theirs, not
		// the command's. Said as what it is, the connection lost.
		waitErr, code = c.lostError("the command in "+name, errors.New("the wait for it was sent again on a new connection")), -1
	}
	switch {
	case waitErr != nil && code < 0:
		s.closeAll() // the daemon is lost or failed: its output is moot
		outputs.Wait()
	case !within(&outputs, c.respTimeout):
		// The daemons end the output streams before the operation (a
		// hostile one might send one endless message).
		s.errs.add(errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: the output of the command in %s did not end within %s of the command (daemon stopped or misbehaving?)", c.addr, name, c.respTimeout))
		s.closeAll() // the streams' own errors come second
		outputs.Wait()
	}
	switch {
	case waitErr != nil && code < 0:
		return execFailure(waitErr)
	case ctx.Err() != nil:
		return code, ctx.Err()
	}
	if err := s.errs.first(); lostWebsocket(err) {
		return code, c.lostError("the output of the command in "+name, err)
	}
	return code, s.errs.first()
}

// resentRequest notices a request that Go's transport sent again on a new
// connection: it does so, unasked, for a GET on a kept-alive connection
// that closed before any answer, so the connection was lost meanwhile.
type resentRequest struct {
	awaiting, seen atomic.Bool
}

func (r *resentRequest) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			if r.awaiting.Swap(true) {
				r.seen.Store(true) // a second connection with no answer yet
			}
		},
		GotFirstResponseByte: func() { r.awaiting.Store(false) },
	}
}

// startExec posts an exec request. Without an operation it returns the
// exit code and error for the caller to return (127 for a missing command).
func (c *Client) startExec(ctx context.Context, name string, req api.InstanceExecPost) (*api.Operation, int, error) {
	if req.Environment == nil {
		req.Environment = map[string]string{}
	}
	op, err := c.Start(ctx, http.MethodPost, hostapi.InstancePath(name, "exec"), req, "")
	if err != nil {
		code, err := execFailure(err)
		return nil, code, err
	}
	if op == nil {
		return nil, -1, fmt.Errorf("exec in %s: the daemon answered without an operation", name)
	}
	return op, 0, nil
}

// execFailure maps a failed exec request to an exit code: a missing command
// is 127 on both daemons (Incus refuses the request, LXD fails the
// operation with that return code).
func execFailure(err error) (int, error) {
	var se *errdefs.StatusError
	if errors.As(err, &se) && hostapi.CommandNotFound.In(se) {
		return ExitCommandNotFound, nil
	}
	var oe *errdefs.OperationError
	if errors.As(err, &oe) && hostapi.CommandNotFound.In(oe) {
		return ExitCommandNotFound, nil
	}
	return -1, err
}

func exitCode(op *api.Operation) int {
	code, _ := hostapi.ExitCode(op)
	return code
}

func execSecrets(op *api.Operation) (map[string]string, error) {
	raw, ok := op.Metadata["fds"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("exec operation %s has no websocket secrets", op.ID)
	}
	fds := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			fds[k] = s
		}
	}
	return fds, nil
}

// execSession holds the websockets of one running command.
type execSession struct {
	c     *Client
	op    *api.Operation
	mu    sync.Mutex
	conns map[string]*websocket.Conn
	errs  errList
}

// connect opens the named websockets: control first, as the daemons' own
// clients do, then the command's streams at once (its handshakes overlap;
// the command starts when the last of them is in). The control socket is
// optional: a command that already ended may refuse it.
func (s *execSession) connect(ctx context.Context, fds map[string]string, names []string) error {
	s.conns = make(map[string]*websocket.Conn, len(names))
	streams := names
	if names[0] == "control" {
		streams = names[1:]
		if secret, ok := fds["control"]; ok {
			if conn, err := s.c.dialRetry(ctx, s.op.ID, secret); err == nil {
				s.conns["control"] = conn
			}
		}
	}
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, n := range streams {
		secret, ok := fds[n]
		if !ok {
			return fmt.Errorf("exec operation %s has no websocket %q", s.op.ID, n)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := s.c.dialRetry(ctx, s.op.ID, secret)
			if err != nil {
				errs[i] = err
				return
			}
			s.mu.Lock()
			s.conns[n] = conn
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	var late *lateSocket
	for i, err := range errs {
		if err == nil {
			continue
		}
		if late == nil {
			late = &lateSocket{name: streams[i], last: true, err: err}
		} else {
			late.last = false // two missing: the command cannot have started
		}
	}
	if late != nil {
		return late
	}
	return nil
}

// lateSocket is a websocket the daemon did not let connect.
type lateSocket struct {
	name string
	last bool // the only one missing: the command may have started
	err  error
}

func (e *lateSocket) Error() string { return "exec websocket " + e.name + ": " + e.err.Error() }
func (e *lateSocket) Unwrap() error { return e.err }

func (s *execSession) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, conn := range s.conns {
		conn.Close()
	}
}

// control forwards window sizes, and turns the end of ctx into SIGTERM then
// SIGKILL. The returned function stops it.
func (s *execSession) control(ctx context.Context, streams ExecIO) (stop func()) {
	s.mu.Lock()
	conn := s.conns["control"]
	s.mu.Unlock()
	quit := make(chan struct{})
	finished := make(chan struct{})
	if conn == nil {
		return func() {}
	}
	grace := streams.KillGrace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	conn.SetReadLimit(s.c.maxAnswer)
	go func() {
		// Drain control frames so that pings and the close are answered;
		// messages (the daemons send none) are skipped unread.
		for {
			if _, _, err := conn.NextReader(); err != nil {
				if errors.Is(err, websocket.ErrReadLimit) {
					s.errs.add(s.c.tooLarge("a message on the exec control socket", s.c.maxAnswer))
				}
				return
			}
		}
	}()
	go func() {
		defer close(finished)
		send := func(m api.InstanceExecControl) {
			buf, _ := json.Marshal(m)
			_ = conn.WriteMessage(websocket.TextMessage, buf)
		}
		signal := func(sig int) {
			send(api.InstanceExecControl{Command: "signal", Signal: sig, Args: map[string]string{"signal": strconv.Itoa(sig)}})
		}
		var kill <-chan time.Time
		done := ctx.Done()
		for {
			select {
			case <-quit:
				return
			case <-done:
				signal(15)
				done = nil
				kill = time.After(grace)
			case <-kill:
				signal(9)
				kill = nil
			case sz, ok := <-streams.Resize:
				if !ok {
					streams.Resize = nil
					continue
				}
				send(api.InstanceExecControl{Command: "window-resize", Args: map[string]string{
					"width": strconv.Itoa(sz.Width), "height": strconv.Itoa(sz.Height)}})
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// dialRetry opens a websocket, trying a second time when the daemon leaves
// the first handshake unanswered (while another client holds its socket's
// accept loop; see New). The daemon waits 5 s for all of a command's
// sockets, so the attempts are short.
func (c *Client) dialRetry(ctx context.Context, opID, secret string) (*websocket.Conn, error) {
	var err error
	for range 2 {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var conn *websocket.Conn
		conn, err = c.websocket(actx, opID, secret)
		cancel()
		if err == nil || ended(ctx) != nil {
			return conn, err
		}
	}
	return nil, err
}

// websocket opens one of an operation's websockets.
func (c *Client) websocket(ctx context.Context, opID, secret string) (*websocket.Conn, error) {
	u := c.wsBase + "/1.0/operations/" + url.PathEscape(opID) + "/websocket?secret=" + url.QueryEscape(secret)
	conn, resp, err := c.dialWebsocket(ctx, u, "an exec websocket")
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			if _, derr := c.decodeAnswer(resp); derr != nil {
				return nil, derr
			}
		}
		return nil, c.websocketError(ctx, "an exec websocket", err)
	}
	conn.SetPingHandler(func(data string) error {
		// The daemons ping each exec socket as it connects and close it
		// as soon as the command's output is sent. A pong written after
		// that close fails, and gorilla's default handler then fails the
		// read too, dropping the output still in the socket's buffer: the
		// lost output of quick commands under load (LXD 5.0.2, Incus
		// 6.0.4; `lxc exec` and `incus exec` lose it the same way). The
		// pong is a courtesy: its failure is no reason to stop reading.
		_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		return nil
	})
	return conn, nil
}

// websocketError classifies a failed websocket handshake.
func (c *Client) websocketError(ctx context.Context, what string, err error) error {
	if end := ended(ctx); end != nil {
		return end // the caller's end, not the daemon's silence
	}
	var ne net.Error
	switch {
	case errors.Is(err, errdefs.ErrInternal): // an answer too large
		return err
	case errors.As(err, &ne) && ne.Timeout():
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: no answer to the handshake of %s within %s (daemon stopped or overloaded?)", c.addr, what, c.timeout)
	}
	return c.transportError(ctx, err)
}

// ended is ctx.Err(), or context.DeadlineExceeded once ctx's deadline
// has passed: a dial fails on that deadline (the connection's, set from
// it) a moment before ctx's own timer says so, and a command's timeout
// that ran out during the handshake then read as a silent daemon (ci66:
// a 300 ms exec timeout, under load, reported as "no answer to the
// handshake of an exec websocket").
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// within waits for wg, at most d (d <= 0: forever), and reports whether
// it is done.
func within(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if d <= 0 {
		<-done
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// readStream copies the messages of a websocket to w until the daemon ends
// the stream. A nil w discards. Write errors are returned once the stream
// has been drained, so that the daemon is never blocked by a failed writer.
// A stream that ends any other way than the daemon's end of it (the
// connection dropped or cut) returns its read error: output is missing.
func readStream(conn *websocket.Conn, w io.Writer) error {
	if w == nil {
		w = io.Discard
	}
	var werr, rerr error
	for {
		// LXD 5.0.2 and Incus 6.0.4 end a stream with an empty text
		// message; a close frame ends it too. A message is copied as it
		// arrives, in constant memory however long it is.
		mt, r, err := conn.NextReader()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				rerr = err
			}
			break
		}
		if mt == websocket.TextMessage {
			break
		}
		if werr == nil {
			_, werr = io.Copy(w, r)
		}
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	if werr != nil {
		return werr
	}
	return rerr
}

// writeStream copies r to a websocket and then marks the end of input.
func writeStream(conn *websocket.Conn, r io.Reader, closeAtEnd bool) error {
	if r != nil {
		buf := make([]byte, 128<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if werr := conn.WriteMessage(websocket.BinaryMessage, buf[:n]); werr != nil {
					return nil // the command ended and no longer reads its input
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("reading stdin: %w", err)
			}
		}
	}
	if closeAtEnd {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	return nil
}

// errList collects errors from several goroutines and keeps the first.
type errList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errList) add(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errList) first() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[0]
}
