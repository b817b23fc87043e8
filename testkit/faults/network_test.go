package faults

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/dirsnap"
	"github.com/lxkit/lxkit/testkit/testcmd"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// TestHTTPSCut puts a TCP proxy on loopback in front of each fault
// daemon's HTTPS listener and closes its connections while lxkit, over
// HTTPS through it, is in the middle of a streamed exec, the events, a
// 1 GiB push, a 1 GiB pull and a pull of a folder of 2,000 files. Each
// must end within 30 s saying the connection to the daemon was lost, leave
// no download that looks complete and no goroutine or open file behind;
// the next call through the same proxy works. The REST driver only: the
// CLI driver reaches a daemon through its unix socket.
func TestHTTPSCut(t *testing.T) {
	for _, d := range daemons {
		t.Run(d.Name, func(t *testing.T) {
			src := newSource(t, d)
			ctx := testhost.Context(t, 5*time.Minute)
			p := newProxy(t, d.HTTPS)
			c := d.https(t, p.addr())
			dr := rest.New(c)
			tr := dr.Transport(src.name)
			work := t.TempDir()
			bigLocal := sparseFile(t, work, 1<<30)
			pulled, pulledDir := mkdir(t, work, "pulled"), mkdir(t, work, "pulled-dir")

			// Connections kept alive for the next request are no leak.
			c.CloseIdleConnections()
			base := countResources()
			round := newOps(t, ctx)
			var execLines, pushed atomic.Int64
			var events atomic.Int64
			round.start("library events", func(ctx context.Context) error {
				return host.New(dr.API()).Events(ctx, api.EventOptions{}, func(api.Event) error { events.Add(1); return nil })
			})
			round.start("library exec", func(ctx context.Context) error {
				return printing(ctx, tr, &execLines)
			})
			round.start("library push", func(ctx context.Context) error {
				return pushFile(ctx, tr, bigLocal, &pushed)
			})
			round.start("library pull", func(ctx context.Context) error {
				return transport.DownloadFile(ctx, tr, "/root/big", filepath.Join(pulled, "big"))
			})
			round.start("library pull folder", func(ctx context.Context) error {
				_, err := transport.DownloadFolder(ctx, tr, "/root/tree", pulledDir)
				return err
			})
			round.underWay(t, map[string]func() bool{
				"event":          func() bool { return events.Load() > 0 },
				"exec output":    func() bool { return execLines.Load() > 0 },
				"bytes pushed":   func() bool { return pushed.Load() > 0 },
				"partial pull":   func() bool { return partial(pulled) },
				"partial folder": func() bool { return partial(pulledDir) },
			})

			t.Logf("cut %d connections", p.cut())
			round.ended(t, time.Now(), deadline, lostConnection, "says the connection to the daemon was lost")
			for _, dir := range []string{pulled, pulledDir} {
				if names := dirsnap.Names(t, dir); len(names) > 0 {
					t.Errorf("%s holds %v after a download cut short", dir, names)
				}
			}
			c.CloseIdleConnections()
			if now, ok := settles(base, 2); !ok {
				t.Error(now.leak(base))
			}
			// The next call, through the same proxy, works.
			if _, err := dr.List(ctx); err != nil {
				t.Errorf("list after the cut: %v", err)
			}
			if err := transport.DownloadFile(ctx, tr, "/etc/hostname", filepath.Join(pulled, "hostname")); err != nil {
				t.Errorf("pull after the cut: %v", err)
			}
		})
	}
}

// stopFor is how long TestDaemonStopped keeps a daemon stopped: longer than
// every bound of the client (30 s without an answer, 45 s without an
// event or keepalive), so that each must give up on its own.
const stopFor = 60 * time.Second

// TestDaemonStopped stops each fault daemon with SIGSTOP for 60 s while
// lxkit is in the middle of a streamed exec, a 1 GiB pull, the events and
// `lxkit monitor`, and while `lxkit list` starts. Each must end before the
// daemon goes on, with an error that says it gave up waiting (a
// documented bound: --request-timeout, 30 s); after SIGCONT the next call
// works; the library leaks nothing. The daemons are stopped at the same
// time: one minute for both. The REST driver only: lxc and incus, which
// the CLI driver runs, wait for a stopped daemon without a bound.
func TestDaemonStopped(t *testing.T) {
	base := countResources()
	t.Run("stopped", func(t *testing.T) {
		for _, d := range daemons {
			t.Run(d.Name, func(t *testing.T) {
				t.Parallel()
				stoppedRound(t, d)
			})
		}
	})
	if now, ok := settles(base, 2); !ok {
		t.Error(now.leak(base))
	}
}

func stoppedRound(t *testing.T, d daemon) {
	src := newSource(t, d)
	ctx := testhost.Context(t, 5*time.Minute)
	dr := d.driver(t, "rest")
	tr := dr.Transport(src.name)
	pulled := mkdir(t, t.TempDir(), "pulled")
	conf := t.TempDir()
	lxkit := func(ctx context.Context, out io.Writer, args ...string) testcmd.Result {
		return testcmd.Run(ctx, testcmd.Options{Conf: conf, Limit: 3 * time.Minute, Stdout: out},
			append([]string{"--host", d.Socket()}, args...)...)
	}

	round := newOps(t, ctx)
	var execLines, events atomic.Int64
	monitorSaw := newSignal()
	round.start("library events", func(ctx context.Context) error {
		return host.New(dr.API()).Events(ctx, api.EventOptions{}, func(api.Event) error { events.Add(1); return nil })
	})
	round.start("lxkit monitor", func(ctx context.Context) error {
		return command(lxkit(ctx, monitorSaw.on(""), "monitor"))
	})
	round.start("library exec", func(ctx context.Context) error {
		return printing(ctx, tr, &execLines)
	})
	round.start("library pull", func(ctx context.Context) error {
		return transport.DownloadFile(ctx, tr, "/root/big", filepath.Join(pulled, "big"))
	})
	round.underWay(t, map[string]func() bool{
		"event":           func() bool { return events.Load() > 0 },
		"event monitored": monitorSaw.seen,
		"exec output":     func() bool { return execLines.Load() > 0 },
		"partial pull":    func() bool { return partial(pulled) },
	})

	pid := d.signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	cont := sync.OnceFunc(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	defer cont() // whatever happens, the daemon goes on
	round.start("lxkit list", func(ctx context.Context) error {
		return command(lxkit(ctx, nil, "list"))
	})
	round.ended(t, stopped, stopFor-5*time.Second, gaveUp, "says lxkit gave up waiting for the daemon")
	time.Sleep(time.Until(stopped.Add(stopFor)))
	cont()

	if names := dirsnap.Names(t, pulled); len(names) > 0 {
		t.Errorf("%s holds %v after a download given up", pulled, names)
	}
	// It works again.
	if r := lxkit(ctx, nil, "list"); r.Code != 0 {
		t.Errorf("list after SIGCONT: %v", command(r))
	}
	if _, err := transport.Run(ctx, tr, "true"); err != nil {
		t.Errorf("exec after SIGCONT: %v", err)
	}
}

// gaveUp reports an error that says lxkit gave up waiting for a daemon
// that did not answer, the way each bound of the client says it.
func gaveUp(err error) bool {
	msg := err.Error()
	return (errors.Is(err, errdefs.ErrUnavailable) || strings.HasPrefix(msg, "exit ")) &&
		strings.Contains(msg, "(daemon stopped or overloaded")
}

// https returns a client of the daemon over HTTPS at addr (its listener,
// or a proxy in front of it) with a fresh client certificate it trusts
// and its certificate pinned.
func (d daemon) https(t *testing.T, addr string) *client.Client {
	t.Helper()
	unix := d.connect(t)
	ctx := testhost.Context(t, 30*time.Second)
	server, err := unix.ServerCert()
	if err != nil {
		t.Fatal(err)
	}
	cert, _, _ := testhost.ClientCert(t)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.TrustCertificate(ctx, testhost.Name("faults"), leaf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.RemoveCertificate(context.Background(), client.Fingerprint(leaf)) })
	c, err := client.New(ctx, "https://"+addr, client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: server}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// proxy forwards TCP connections from a loopback port to a target, and
// can cut every connection it carries at once.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes every connection carried so far and returns how many there
// were; new ones are still accepted.
func (p *proxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	return n
}

// printing runs a command in the container that prints a line every
// 0.1 s for 5 minutes (well past the fault, on a loaded machine too),
// counting the output's writes.
func printing(ctx context.Context, tr transport.Transport, lines *atomic.Int64) error {
	res, err := tr.Exec(ctx, transport.Command{Args: []string{"sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); sleep 0.1; done"},
		Stdout: writerFunc(func(p []byte) { lines.Add(1) })})
	if err == nil {
		err = res.Err()
	}
	return err
}

// pushFile writes a local file to /root/up in the container, counting the
// bytes read from it.
func pushFile(ctx context.Context, tr transport.Transport, local string, pushed *atomic.Int64) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	return tr.WriteFile(ctx, "/root/up", &countingFile{f: f, n: pushed}, transport.FileOptions{})
}

// sparseFile makes a sparse file of size bytes in dir.
func sparseFile(t *testing.T, dir string, size int64) string {
	t.Helper()
	path := filepath.Join(dir, "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Truncate(size), f.Close()); err != nil {
		t.Fatal(err)
	}
	return path
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
