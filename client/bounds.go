package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/errdefs"
)

// What a daemon may make the client hold in memory or wait for. A hostile
// or broken server (an endless body, a huge document, one byte a second, a
// stopped daemon that still accepts connections) ends in an error that
// says so, instead of unbounded memory or time.
const (
	// DefaultMaxAnswerSize bounds one JSON answer or websocket message
	// (WithMaxAnswerSize). The largest answers lxkit asks for are lists
	// with recursion=1: LXD 5.0 and Incus 6.0 describe an instance in about
	// 2.5 KiB (3.7 KiB with its state), so 64 MiB holds a list of some
	// 17,000 instances with their state, several times what one host runs.
	DefaultMaxAnswerSize = 64 << 20
	// DefaultResponseTimeout bounds each wait for a daemon to answer or to
	// move a transfer on (WithResponseTimeout). It is below the 60 s a
	// daemon stopped for maintenance may stay silent, and above the few
	// seconds the daemons take for their slowest synchronous requests
	// (creating a network or a storage pool).
	DefaultResponseTimeout = 30 * time.Second
	// DefaultReadTimeout bounds reading one JSON answer once it has started
	// (WithReadTimeout): the daemons send an answer as fast as the link
	// carries it, 64 MiB in 30 s is 2.2 MB/s.
	DefaultReadTimeout = 30 * time.Second
	// maxHeaderBytes bounds the headers of an answer: the daemons' are
	// well under 1 KiB.
	maxHeaderBytes = 1 << 20
	// smallBody is the most a request body may hold to go out unwatched,
	// in one write.
	smallBody = 64 << 10
)

// WithMaxAnswerSize bounds, in bytes, every JSON answer the client reads
// (synchronous answers, operations, error answers, directory listings) and
// each message of the events and exec control websockets. A larger one is
// an error matching errdefs.ErrInternal that names the host and the limit,
// and the client never holds much more than n bytes of it. Zero or less
// means DefaultMaxAnswerSize. Files, images and the output of commands
// are streams, not bounded by it.
func WithMaxAnswerSize(n int64) Option {
	return func(c *Client) {
		if n <= 0 {
			n = DefaultMaxAnswerSize
		}
		c.maxAnswer = n
	}
}

// WithResponseTimeout bounds how long the daemon may keep the client
// waiting: for the start of an answer once the request is sent (an
// operation wait gets the time it asks the daemon to hold it on top), and
// for the next bytes of a file, image or log being sent or received while
// the client waits for them. A stopped daemon (SIGSTOP) still accepts
// unix-socket connections and never answers: this turns it into an error
// matching errdefs.ErrUnavailable. The default is DefaultResponseTimeout;
// zero means no bound (only the context ends a request).
func WithResponseTimeout(d time.Duration) Option { return func(c *Client) { c.respTimeout = d } }

// WithReadTimeout bounds how long reading one JSON answer may take once it
// has started (a daemon sending one byte a second): past it, an error
// matching errdefs.ErrUnavailable. The default is DefaultReadTimeout; zero
// means no bound.
func WithReadTimeout(d time.Duration) Option { return func(c *Client) { c.readTimeout = d } }

// waitPoll is how long one operation wait asks the daemon to hold the
// request: half the response timeout (15 s by default), so that a wait
// notices a stopped daemon within 1.5 times that timeout; 1 to 30 s.
func (c *Client) waitPoll() int {
	if c.respTimeout <= 0 {
		return 30
	}
	return int(min(max(c.respTimeout/2, time.Second), 30*time.Second) / time.Second)
}

// heldFor is how long the daemon is asked to hold a request before it
// answers: the timeout of an operation wait (negative: until the
// operation ends), else zero.
func heldFor(u *url.URL) time.Duration {
	if !strings.HasPrefix(u.Path, "/1.0/operations/") || !strings.HasSuffix(u.Path, "/wait") {
		return 0
	}
	secs, err := strconv.ParseFloat(u.Query().Get("timeout"), 64)
	if err != nil || secs < 0 {
		return -1
	}
	return time.Duration(secs * float64(time.Second))
}

// watchdog calls bite once the countdown it was last armed with runs out
// without being armed again or disarmed. It bites once.
type watchdog struct {
	mu       sync.Mutex
	timer    *time.Timer
	deadline time.Time
	armed    bool
	bitten   bool
	why      func() error
	bite     func(error)
}

// arm (re)starts the countdown: after d the watchdog bites with why's
// error. d <= 0 disarms it.
func (w *watchdog) arm(d time.Duration, why func() error) {
	if d <= 0 {
		w.disarm()
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bitten {
		return
	}
	w.armed, w.deadline, w.why = true, time.Now().Add(d), why
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
}

func (w *watchdog) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if w.timer != nil {
		w.timer.Stop()
	}
}

// fire runs when the timer ends; a countdown armed again meanwhile is
// left to its own end.
func (w *watchdog) fire() {
	w.mu.Lock()
	if !w.armed || w.bitten || time.Now().Before(w.deadline) {
		w.mu.Unlock()
		return
	}
	w.bitten = true
	why := w.why
	w.mu.Unlock()
	w.bite(why())
}

// exchange is one request in flight: its context, which the watchdog
// ends when the daemon keeps it waiting too long, and how to word its
// failures.
type exchange struct {
	c      *Client
	what   string          // "GET /1.0", for messages
	held   time.Duration   // heldFor the request's URL
	caller context.Context // the caller's context
	ctx    context.Context // the request's
	cancel context.CancelCauseFunc
	dog    watchdog
}

func (c *Client) newExchange(req *http.Request) *exchange {
	x := &exchange{c: c, what: req.Method + " " + req.URL.Path, held: heldFor(req.URL), caller: req.Context()}
	x.ctx, x.cancel = context.WithCancelCause(x.caller)
	x.dog.bite = x.cancel
	return x
}

func (x *exchange) noAnswer(d time.Duration) func() error {
	return func() error {
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: no answer to %s within %s (daemon stopped or overloaded?)", x.c.addr, x.what, d)
	}
}

func (x *exchange) stalled(d time.Duration) func() error {
	return func() error {
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: %s stalled: nothing moved for %s (daemon stopped or overloaded?)", x.c.addr, x.what, d)
	}
}

func (x *exchange) slow(d time.Duration) func() error {
	return func() error {
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: the answer to %s took more than %s to arrive (daemon stopped or overloaded, or a very slow link?)", x.c.addr, x.what, d)
	}
}

// failure words an error of the request or of reading its answer: the
// watchdog's, the caller's context's, or a lost connection.
func (x *exchange) failure(err error) error {
	switch {
	case x.caller.Err() != nil:
		return x.caller.Err()
	case x.ctx.Err() != nil:
		return context.Cause(x.ctx)
	case lost(err):
		return x.c.lostError(x.what, err)
	}
	return err
}

func (x *exchange) done() {
	x.dog.disarm()
	x.cancel(nil)
}

// lost reports whether err is a connection that ended under a request.
func lost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, net.ErrClosed) // a body written on a connection whose reader saw it end
}

// lostWebsocket reports a websocket read that ended because the
// connection did: closed without a close message (1006) or cut.
func lostWebsocket(err error) bool {
	return websocket.IsCloseError(err, websocket.CloseAbnormalClosure) || lost(err)
}

func (c *Client) lostError(what string, err error) error {
	var ue *url.Error // its URL may carry a websocket secret: the cause only
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return errdefs.Wrap(errdefs.ErrUnavailable, err, "%s: connection to the daemon lost during %s", c.addr, what)
}

// sending is a request body: while the transport writes what it read,
// the daemon must take it within the response timeout. The time spent
// reading the caller's body is not counted.
type sending struct {
	io.ReadCloser
	x *exchange
	d time.Duration
}

func (s *sending) Read(p []byte) (int, error) {
	s.x.dog.disarm()
	n, err := s.ReadCloser.Read(p)
	s.x.dog.arm(s.d, s.x.stalled(s.d))
	return n, err
}

// answerBody is the body of an answer. Read as a stream, each read must
// get bytes within the response timeout; read whole (readAnswer), it must
// arrive within the read timeout.
type answerBody struct {
	rc    io.ReadCloser
	x     *exchange
	whole bool
}

func (b *answerBody) Read(p []byte) (int, error) {
	if !b.whole {
		d := b.x.c.respTimeout
		b.x.dog.arm(d, b.x.stalled(d))
	}
	n, err := b.rc.Read(p)
	if !b.whole {
		b.x.dog.disarm()
	}
	// Go's transport may end the body of a cancelled request with a
	// plain io.EOF: the end counts only while the request stands.
	if err != nil && (err != io.EOF || b.x.ctx.Err() != nil) {
		err = b.x.failure(err)
	}
	return n, err
}

func (b *answerBody) Close() error {
	err := b.rc.Close()
	b.x.done()
	return err
}

// readAnswer reads a whole answer into memory within the read timeout
// (plus the time the daemon was asked to hold it: Incus 6.0.4 sends the
// headers of an operation wait at once, its body at the wait's end) and
// the size limit.
func (c *Client) readAnswer(resp *http.Response, what string) ([]byte, error) {
	if b, ok := resp.Body.(*answerBody); ok {
		b.whole = true
		d := c.readTimeout
		switch {
		case d <= 0:
		case b.x.held < 0: // held until the operation ends: no bound
			d = 0
		default:
			d += b.x.held
		}
		b.x.dog.arm(d, b.x.slow(d))
	}
	buf, err := readAll(resp.Body, resp.ContentLength, c.maxAnswer)
	if errors.Is(err, errTooLarge) {
		return nil, c.tooLarge(what, c.maxAnswer)
	}
	return buf, err
}

// errTooLarge is an answer longer than the client reads.
var errTooLarge = errors.New("answer too large")

// tooLarge is the error of an answer (what) over limit bytes.
func (c *Client) tooLarge(what string, limit int64) error {
	return errdefs.Wrap(errdefs.ErrInternal, nil, "%s: %s is larger than %s, the most lxkit reads of it (is it an LXD or Incus server?)", c.addr, what, byteSize(limit))
}

// readAll reads r to its end, refusing more than limit bytes with
// errTooLarge while holding no more than that: a size announced (>= 0)
// over the limit is refused before reading, and an unknown size is read
// in pieces joined at the end, so that a growing buffer never holds the
// old copy and the new at once.
func readAll(r io.Reader, size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, errTooLarge
	}
	if size >= 0 {
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return buf, nil
	}
	var pieces [][]byte
	var total int64
	piece := make([]byte, 0, min(16<<10, limit+1))
	for {
		if len(piece) == cap(piece) {
			pieces = append(pieces, piece)
			piece = make([]byte, 0, min(2*int64(cap(piece)), 1<<20, limit+1-total))
		}
		n, err := r.Read(piece[len(piece):cap(piece)])
		piece = piece[:len(piece)+n]
		if total += int64(n); total > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(pieces) == 0 {
		return piece, nil
	}
	return bytes.Join(append(pieces, piece), nil), nil
}

// byteSize shows a size as people write it.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// handshake bounds what a websocket handshake reads: Go's
// http.ReadResponse, which gorilla/websocket uses, reads headers without
// a limit.
type handshake struct {
	read     atomic.Int64
	finished atomic.Bool
}

type handshakeKey struct{}

// limitedConn is a websocket's connection, which counts what it reads
// until the handshake has finished.
type limitedConn struct {
	net.Conn
	hs *handshake
}

func (l *limitedConn) Read(p []byte) (int, error) {
	n, err := l.Conn.Read(p)
	if !l.hs.finished.Load() && l.hs.read.Add(int64(n)) > maxHeaderBytes {
		return 0, errTooLarge
	}
	return n, err
}

// websocketDial wraps dial so that a connection dialed for
// dialWebsocket counts what its handshake reads.
func websocketDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if hs, ok := ctx.Value(handshakeKey{}).(*handshake); ok && err == nil {
			return &limitedConn{Conn: conn, hs: hs}, nil
		}
		return conn, err
	}
}

// dialWebsocket opens a websocket (what, for messages) at url. The
// answer to its handshake may be no larger than maxHeaderBytes.
func (c *Client) dialWebsocket(ctx context.Context, url, what string) (*websocket.Conn, *http.Response, error) {
	if err := c.checkOpen(); err != nil {
		return nil, nil, err
	}
	hs := &handshake{}
	conn, resp, err := c.ws.DialContext(context.WithValue(ctx, handshakeKey{}, hs), url, nil)
	hs.finished.Store(true)
	if errors.Is(err, errTooLarge) {
		return nil, nil, c.tooLarge("the answer to the handshake of "+what, maxHeaderBytes)
	}
	return conn, resp, err
}
