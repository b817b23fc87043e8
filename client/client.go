// Package client speaks the /1.0 REST API of LXD and Incus, over the
// daemon's unix socket or over HTTPS with a client certificate (the
// daemon's certificate verified, or pinned). It hides the differences
// between the two daemons that lxkit knows of: callers use one set of
// methods for both. It implements hostapi.API and its capabilities.
//
// Every method takes a context; a request or a wait ends when it does.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Server kinds, as GET /1.0 reports them in environment.server.
const (
	KindLXD   = "lxd"
	KindIncus = "incus"
)

// Client is a connection to one daemon. It is safe for concurrent use.
type Client struct {
	addr   string // what the user gave, for messages
	base   string // URL prefix of every request, e.g. "http://unix.socket"
	wsBase string // the same for websockets, e.g. "ws://unix.socket"
	http   *http.Client
	ws     *websocket.Dialer
	server atomic.Pointer[api.Server] // GET /1.0, read again once trusted
	// lazy defers the first GET /1.0 (WithLazyServer); probe serializes
	// it and probing is set while it runs.
	lazy     bool
	probe    sync.Mutex
	probing  atomic.Bool
	project  string
	log      *slog.Logger
	tls      TLSOptions
	timeout  time.Duration
	dialHook func()
	// fallbacks are other addresses of the same service (failover.go);
	// connected is the address the last connection went to.
	fallbacks []string
	connected atomic.Pointer[string]
	answered  atomic.Bool // the daemon has answered a request
	closed    atomic.Bool // Close was called
	// Bounds on a hostile or stalled daemon (bounds.go).
	maxAnswer   int64
	respTimeout time.Duration
	readTimeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithProject makes every request act in the named project.
func WithProject(name string) Option { return func(c *Client) { c.project = name } }

// WithLogger logs each request (method, path, status, duration) at debug
// level. Request bodies are never logged.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithTLS sets how an HTTPS client proves who it is and checks the daemon.
// It has no effect on a unix socket.
func WithTLS(o TLSOptions) Option { return func(c *Client) { c.tls = o } }

// WithDialHook calls f each time the client opens a connection, e.g. to
// count them.
func WithDialHook(f func()) Option { return func(c *Client) { c.dialHook = f } }

// WithConnectTimeout bounds how long connecting to an HTTPS daemon may take
// (TCP and TLS handshake each), and the whole handshake of a websocket
// (events, exec) over either transport. The default is 10 seconds.
func WithConnectTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithLazyServer makes New on a unix socket skip GET /1.0: Server and
// Kind read it when first asked, and a refused request reads it to say
// whether the client is trusted. A daemon that cannot be reached then
// fails the first request instead of New. A command that only runs
// something saves a round trip (and the daemon the answer, which it
// builds afresh each time). It has no effect on HTTPS, where New's
// GET /1.0 also checks the daemon's trust in the client.
func WithLazyServer() Option { return func(c *Client) { c.lazy = true } }

// New connects to the daemon at addr and reads GET /1.0 once. addr is any
// form ParseAddr reads; empty detects the local daemon. An address that
// does not answer gives an error matching errdefs.ErrUnavailable; a server
// certificate that fails verification, errdefs.ErrCertificate. A client
// the daemon does not trust is connected (it may ask for trust with
// RequestTrust), but every other request fails with errdefs.ErrUntrusted.
func New(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	ep, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	c := &Client{addr: ep.String(), log: slog.New(slog.DiscardHandler), timeout: 10 * time.Second,
		maxAnswer: DefaultMaxAnswerSize, respTimeout: DefaultResponseTimeout, readTimeout: DefaultReadTimeout}
	for _, o := range opts {
		o(c)
	}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	var tc *tls.Config
	if ep.Socket != "" {
		c.base, c.wsBase = "http://unix.socket", "ws://unix.socket"
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", ep.Socket)
		}
	} else {
		c.base, c.wsBase = "https://"+ep.Host, "wss://"+ep.Host
		dial = (&net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}).DialContext
		if dial, err = c.failover(dial, ep.Host); err != nil {
			return nil, err
		}
		if tc, err = c.tls.config(ep.Host); err != nil {
			return nil, err
		}
	}
	if c.dialHook != nil {
		inner := dial
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dialHook()
			return inner(ctx, network, addr)
		}
	}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: c.timeout,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		// LXD and Incus accept socket connections one at a time, reading
		// each one's first bytes before they take the next. A connection
		// dialed for a request that then went out on an idle one would sit
		// in the pool unwritten and stall every client of the daemon until
		// IdleConnTimeout closed it (the 90 s stalls seen in CI). On the
		// socket a dial costs microseconds: one connection per request.
		DisableKeepAlives:      ep.Socket != "",
		MaxResponseHeaderBytes: maxHeaderBytes,
		// Large buffers: whole files stream through these connections.
		WriteBufferSize: 256 << 10,
		ReadBufferSize:  256 << 10,
	}}
	c.ws = &websocket.Dialer{NetDialContext: websocketDial(dial), TLSClientConfig: tc, HandshakeTimeout: c.timeout}
	if c.lazy = c.lazy && ep.Socket != ""; c.lazy {
		return c, nil
	}
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// refresh reads GET /1.0 again, e.g. once the daemon has come to trust us.
func (c *Client) refresh(ctx context.Context) error {
	var srv api.Server
	if _, err := c.Query(ctx, http.MethodGet, "/1.0", nil, &srv); err != nil {
		return err
	}
	c.server.Store(&srv)
	return nil
}

// Endpoint is where a daemon listens: a unix socket or an HTTPS address.
type Endpoint struct {
	Socket string // path of a unix socket
	Host   string // host:port of an HTTPS listener
}

func (e Endpoint) String() string {
	if e.Socket != "" {
		return e.Socket
	}
	return "https://" + e.Host
}

// An AddrError is a daemon address that ParseAddr cannot read. It
// matches errdefs.ErrInvalidArgument.
type AddrError struct {
	Addr string // as given, its password (if any) masked
	Why  string
}

func (e *AddrError) Error() string { return fmt.Sprintf("host %q: %s", e.Addr, e.Why) }

// Is makes an AddrError match errdefs.ErrInvalidArgument.
func (e *AddrError) Is(target error) bool { return target == errdefs.ErrInvalidArgument }

// DefaultHTTPSPort is the port of an HTTPS address given without one.
const DefaultHTTPSPort = "8443"

// ParseAddr reads a daemon address as users write it: a socket path, a
// unix:// URL, https://HOST[:PORT], or HOST:PORT (which means https). The
// port defaults to 8443. Empty (or "unix://") detects the local socket.
func ParseAddr(addr string) (Endpoint, error) {
	bad := func(why string) (Endpoint, error) {
		shown := addr // as typed, but never a password
		if u, err := url.Parse(addr); err == nil && u.User != nil {
			shown = u.Redacted()
		}
		return Endpoint{}, &AddrError{Addr: shown, Why: why}
	}
	switch {
	case addr == "" || addr == "unix://":
		sock, err := DetectSocket()
		return Endpoint{Socket: sock}, err
	case strings.HasPrefix(addr, "unix://"):
		return Endpoint{Socket: strings.TrimPrefix(addr, "unix://")}, nil
	case strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return bad("expected https://HOST[:PORT]")
		}
		return Endpoint{Host: withPort(u.Host)}, nil
	case strings.Contains(addr, "://"):
		return bad("the REST API is reached over unix:// or https:// (ssh:// goes through the CLI driver)")
	case strings.Contains(addr, "/") || isSocket(addr):
		return Endpoint{Socket: addr}, nil
	}
	return ParseAddr("https://" + addr)
}

func withPort(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), DefaultHTTPSPort)
}

func isSocket(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// DetectSocket returns the first local daemon socket found: $LXD_DIR,
// $INCUS_DIR, the LXD snap, /var/lib/lxd, then /var/lib/incus.
func DetectSocket() (string, error) {
	var candidates []string
	for _, env := range []string{"LXD_DIR", "INCUS_DIR"} {
		if d := os.Getenv(env); d != "" {
			candidates = append(candidates, filepath.Join(d, "unix.socket"))
		}
	}
	candidates = append(candidates,
		"/var/snap/lxd/common/lxd/unix.socket",
		"/var/lib/lxd/unix.socket",
		"/var/lib/incus/unix.socket")
	for _, p := range candidates {
		if isSocket(p) {
			return p, nil
		}
	}
	return "", errdefs.Wrap(errdefs.ErrUnavailable, nil,
		"no LXD or Incus socket found (tried %s); start a daemon (make hosts) or pass --host", strings.Join(candidates, ", "))
}

// Server returns what GET /1.0 answered when the client connected (or
// last became trusted).
func (c *Client) Server() api.Server { return *c.loadServer() }

// Kind returns KindLXD or KindIncus.
func (c *Client) Kind() string { return c.loadServer().Environment.Server }

// loadServer returns GET /1.0's answer, reading it now if New did not
// (WithLazyServer). A read that fails gives an empty answer: the caller's
// own request to the daemon then fails and says why.
func (c *Client) loadServer() *api.Server {
	if s := c.server.Load(); s != nil {
		return s
	}
	c.probe.Lock()
	defer c.probe.Unlock()
	if s := c.server.Load(); s != nil {
		return s
	}
	c.probing.Store(true)
	defer c.probing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), c.respTimeout+c.timeout)
	defer cancel()
	if err := c.refresh(ctx); err != nil {
		return &api.Server{}
	}
	return c.server.Load()
}

// Addr returns the address the client talks to.
func (c *Client) Addr() string { return c.addr }

// CloseIdleConnections closes the connections kept alive for the next
// request, as http.Client's does; the next request opens a new one.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// request builds a request for path (which may carry a query) with the
// client's project added.
func (c *Client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	return http.NewRequestWithContext(ctx, method, c.base+hostapi.WithProject(path, c.project), body)
}

// Close closes the connections the client keeps for reuse (over HTTPS).
// Requests, exec sessions and file transfers under way go on to their
// end; new ones fail with an error matching net.ErrClosed.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.http.CloseIdleConnections()
	return nil
}

func (c *Client) checkOpen() error {
	if c.closed.Load() {
		return fmt.Errorf("%s: the client is closed: %w", c.addr, net.ErrClosed)
	}
	return nil
}

// do sends a request and returns the answer with its body still to read,
// after turning transport failures into classified errors. The daemon
// must take the request and start answering within the response timeout
// (plus the time an operation wait asks it to hold the request); the
// caller must close the body, which is bounded as answerBody says.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	start := time.Now()
	x := c.newExchange(req)
	d := c.respTimeout
	x.dog.arm(d, x.stalled(d)) // connecting and sending
	// A large or streamed body is watched as it goes. A small one goes in
	// the same write as the headers (Go's transport flushes the headers
	// first for a body it does not know to be in memory), which the
	// countdown above covers.
	if req.Body != nil && req.Body != http.NoBody && (req.ContentLength <= 0 || req.ContentLength > smallBody) {
		req.Body = &sending{ReadCloser: req.Body, x: x, d: d}
	}
	wait := d + x.held
	if d <= 0 || wait < d {
		wait = 0 // no bound, or a wait held until its operation ends
	}
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { x.dog.arm(wait, x.noAnswer(wait)) }}
	resp, err := c.http.Do(req.WithContext(httptrace.WithClientTrace(x.ctx, trace)))
	x.dog.disarm()
	if err != nil {
		c.log.Debug("request failed", "method", req.Method, "path", req.URL.Path, "err", err)
		if x.ctx.Err() != nil || lost(err) {
			err = x.failure(err) // the watchdog's, the caller's, a lost connection
		} else {
			err = c.transportError(x.caller, err)
		}
		x.done()
		return nil, err
	}
	if x.ctx.Err() != nil {
		// Go's transport hands back an answer that raced the request's
		// cancellation (a server that answers as the connection closes),
		// even after the watchdog bit: too late, by the watchdog's rule.
		resp.Body.Close()
		err := x.failure(context.Canceled)
		x.done()
		return nil, err
	}
	c.log.Debug("request", "method", req.Method, "path", req.URL.RequestURI(), "status", resp.StatusCode, "took", time.Since(start))
	c.answered.Store(true)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		x.done() // the connection is the caller's now; the context no longer matters
		return resp, nil
	}
	resp.Body = &answerBody{rc: resp.Body, x: x}
	return resp, nil
}

func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if c.answered.Load() && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)) {
		// It answered before: it went away under the caller (killed,
		// restarting), between two requests of one operation.
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: connection to the daemon lost (it answered before, now it refuses connections)", c.addr)
	}
	err = connectError(c.addr, c.timeout, err)
	if n := len(c.fallbacks); n > 0 && errors.Is(err, errdefs.ErrUnavailable) {
		err = fmt.Errorf("%w (nor did the %d other addresses it was given)", err, n)
	}
	return err
}

// connectError classifies a failure to reach the daemon at addr.
func connectError(addr string, timeout time.Duration, err error) error {
	// The URL in a *url.Error may carry a websocket secret: keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if cerr := certificateError(addr, err); cerr != nil {
		return cerr
	}
	var ne net.Error
	switch {
	case lost(err):
		return errdefs.Wrap(errdefs.ErrUnavailable, err, "%s: connection to the daemon lost", addr)
	case errors.Is(err, syscall.ENOENT):
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: no such socket: no daemon listens there (is it installed and running, and is that its socket?)", addr)
	case errors.Is(err, syscall.ECONNREFUSED):
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: connection refused: daemon not answering (is it running, and listening there?)", addr)
	case errors.Is(err, syscall.EACCES):
		return errdefs.Wrap(errdefs.ErrForbidden, nil, "%s: permission denied (run as root or join the daemon's group)", addr)
	case errors.As(err, &ne) && ne.Timeout():
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: timed out connecting (after %s)", addr, timeout)
	}
	return errdefs.Wrap(errdefs.ErrUnavailable, err, "%s", addr)
}

// TLS returns the client's TLS options.
func (c *Client) TLS() TLSOptions { return c.tls }

// ClientFingerprint is the fingerprint of the client's certificate, or
// empty without one.
func (c *Client) ClientFingerprint() string { return c.tls.clientFingerprint() }

// Trusted reports whether the daemon trusts this client. Over a unix
// socket it always does.
func (c *Client) Trusted() bool {
	s := c.server.Load() // nil while New reads GET /1.0 for the first time
	return s == nil || s.Auth != "untrusted"
}

// refusal explains a 403 answer to an untrusted client.
func (c *Client) refusal(err error) error {
	var se *errdefs.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden {
		return err
	}
	if c.lazy && !c.probing.Load() {
		c.loadServer()
	}
	if c.Trusted() {
		return err
	}
	return c.RequireTrust()
}

// RequireTrust returns nil when the daemon trusts the client, else an error
// matching errdefs.ErrUntrusted that says how to become trusted.
func (c *Client) RequireTrust() error {
	if c.Trusted() {
		return nil
	}
	who := "this client"
	if fp := c.tls.clientFingerprint(); fp != "" {
		who += " (certificate " + fp[:12] + ")"
	} else {
		who += " (it has no client certificate: lxkit cert generate)"
	}
	return errdefs.Wrap(errdefs.ErrUntrusted, nil, "%s does not trust %s: add it with a trust token or password (lxkit remote add), or trust its certificate over the unix socket (lxkit trust add)", c.addr, who)
}

// Query sends a request whose answer is synchronous and decodes its metadata
// into out (when out is not nil). body is encoded as JSON when not nil. It
// returns the answer's ETag. An error answer is a *errdefs.StatusError. An
// answer larger than the client's limit (WithMaxAnswerSize) or not JSON
// matches errdefs.ErrInternal; one that does not come in time
// (WithResponseTimeout, WithReadTimeout) or a connection lost under it,
// errdefs.ErrUnavailable.
func (c *Client) Query(ctx context.Context, method, path string, body, out any) (etag string, err error) {
	resp, err := c.send(ctx, method, path, body, "")
	if err != nil {
		return "", err
	}
	if out != nil && len(resp.Metadata) > 0 {
		if err := json.Unmarshal(resp.Metadata, out); err != nil {
			return "", fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return resp.etag, nil
}

type answer struct {
	api.Response
	etag string
}

// send sends a JSON request and decodes the envelope of the answer.
func (c *Client) send(ctx context.Context, method, path string, body any, ifMatch string) (*answer, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := c.request(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	a, err := c.decodeAnswer(resp)
	if err != nil {
		return nil, c.onMember(ctx, req, c.refusal(err))
	}
	return a, nil
}

// closeBody reads what is left of a body (up to 64 KiB) so that the
// connection goes back to the pool, and closes it.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// decodeAnswer reads the JSON envelope of an answer, within the client's
// bounds. An error answer is a *errdefs.StatusError; an answer that is not
// the daemons' JSON is errdefs.ErrInternal.
func (c *Client) decodeAnswer(resp *http.Response) (*answer, error) {
	what := "the answer"
	if resp.Request != nil {
		what = "the answer to " + resp.Request.Method + " " + resp.Request.URL.Path
	}
	buf, err := c.readAnswer(resp, what)
	if err != nil {
		return nil, err
	}
	var a answer
	if err := json.Unmarshal(buf, &a.Response); err != nil {
		switch mt := mediaType(resp.Header); {
		case resp.StatusCode >= 400: // from something in front of the daemon, say
			return nil, &errdefs.StatusError{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		case mt != "" && mt != "application/json" && mt != "text/plain": // Go's servers sniff JSON as text/plain
			return nil, errdefs.Wrap(errdefs.ErrInternal, nil, "%s: %s is %s, not JSON (is it an LXD or Incus server?)", c.addr, what, mt)
		}
		return nil, errdefs.Wrap(errdefs.ErrInternal, err, "%s: %s is not the JSON of an LXD or Incus server", c.addr, what)
	}
	if a.Type == "error" || resp.StatusCode >= 400 {
		code := a.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return nil, &errdefs.StatusError{Status: code, Message: a.Error}
	}
	a.etag = resp.Header.Get("ETag")
	return &a, nil
}

// mediaType is the media type of an answer's Content-Type, or "" without
// one.
func mediaType(h http.Header) string {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return strings.ToLower(mt)
}

// Do sends a request that may start a background operation. When the
// daemon answers with an operation, Do waits for it to end and returns it.
// A failed or cancelled operation is an *errdefs.OperationError.
func (c *Client) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	op, err := c.Start(ctx, method, path, body, ifMatch)
	if err != nil || op == nil {
		return nil, err
	}
	return c.Wait(ctx, op)
}

// Start sends a request and returns the operation it started without
// waiting for it (nil for a synchronous answer).
func (c *Client) Start(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	a, err := c.send(ctx, method, path, body, ifMatch)
	if err != nil {
		return nil, err
	}
	if a.Type != "async" {
		return nil, nil
	}
	var op api.Operation
	if err := json.Unmarshal(a.Metadata, &op); err != nil {
		return nil, fmt.Errorf("%s %s: decoding operation: %w", method, path, err)
	}
	return &op, nil
}

// Wait waits for an operation to end. When ctx ends first, Wait cancels the
// operation (if the daemon allows it) and returns ctx's error. It asks the
// daemon every half response timeout (15 s by default), so a daemon that
// stops answering is noticed within 1.5 times that timeout.
func (c *Client) Wait(ctx context.Context, op *api.Operation) (*api.Operation, error) {
	cur := op
	for !cur.Done() {
		var next api.Operation
		asked := time.Now()
		_, err := c.Query(ctx, http.MethodGet, "/1.0/operations/"+url.PathEscape(op.ID)+"/wait?timeout="+strconv.Itoa(c.waitPoll()), nil, &next)
		if ctx.Err() != nil {
			c.cancel(op)
			return cur, ctx.Err()
		}
		var se *errdefs.StatusError
		if errors.As(err, &se) {
			// Incus 6.0 answers the wait for an operation that failed
			// with the failure itself (a 404 for an image a server lacks,
			// say) instead of the operation, and a wait whose timeout ran
			// out with "context deadline exceeded": read the operation.
			var got api.Operation
			if _, gerr := c.Query(ctx, http.MethodGet, "/1.0/operations/"+url.PathEscape(op.ID), nil, &got); gerr == nil {
				cur = &got
				if !got.Done() && time.Since(asked) < time.Second {
					// An error that came at once: not the wait's end.
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
				continue
			}
		}
		if errors.Is(err, errdefs.ErrNotFound) {
			// Finished operations vanish a few seconds after they end.
			return cur, fmt.Errorf("operation %s vanished before its end was seen", op.ID)
		}
		if err != nil {
			return cur, err
		}
		cur = &next
	}
	if cur.StatusCode != api.OperationSuccess {
		return cur, &errdefs.OperationError{ID: cur.ID, Description: cur.Description, Status: cur.Status, Err: cur.Err}
	}
	return cur, nil
}

// cancel asks the daemon to cancel an operation, with its own short deadline
// since the caller's context has already ended. It asks whatever the
// operation said when it started: an image download becomes cancellable
// only once its files download.
func (c *Client) cancel(op *api.Operation) {
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_, _ = c.Query(ctx, http.MethodDelete, "/1.0/operations/"+url.PathEscape(op.ID), nil, nil)
}

// raw sends a request with a raw body and returns the raw response for the
// caller to read; error answers are decoded into a *errdefs.StatusError.
func (c *Client) raw(req *http.Request) (*http.Response, error) {
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		_, err := c.decodeAnswer(resp)
		return nil, c.onMember(req.Context(), req, c.refusal(err))
	}
	return resp, nil
}

// PathEscape escapes one path segment of a request URL.
func PathEscape(s string) string { return url.PathEscape(s) }
