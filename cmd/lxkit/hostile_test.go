package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/testkit/hostile"
)

// The real lxkit binary against a hostile server at --host, over a unix
// socket and over HTTPS: a clear error, within bounded time and with a
// bounded peak RSS (on main, an endless body on GET /1.0 grew lxkit to
// 3 GiB).

// maxRSS bounds the peak RSS of lxkit against a hostile server: the
// 64 MiB answer limit (client.DefaultMaxAnswerSize) and the runtime.
const maxRSS = 100 << 20

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// lxkitBinary builds the command once per test run.
func lxkitBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lxkit-hostile-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "lxkit")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building lxkit: %v\n%s", buildErr, binary)
	}
	return binary
}

type run struct {
	stderr string
	code   int
	took   time.Duration
	rss    int64 // peak, bytes
}

// lxkit runs the binary with args against s, with configuration
// directories of its own.
func lxkit(t *testing.T, s *hostile.Server, args ...string) run {
	t.Helper()
	bin := lxkitBinary(t)
	host := []string{"--host", s.Addr}
	if s.Cert != nil {
		host = append(host, "--insecure")
	}
	cmd := exec.Command(bin, append(host, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "LXKIT_CONF="+filepath.Join(home, "lxkit"),
		"LXD_CONF="+filepath.Join(home, "lxc"), "INCUS_CONF="+filepath.Join(home, "incus"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := run{stderr: stderr.String(), took: time.Since(start), code: cmd.ProcessState.ExitCode()}
	if err != nil && r.code < 0 {
		t.Fatalf("lxkit %s: %v", strings.Join(args, " "), err)
	}
	r.rss = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	t.Logf("lxkit %s: exit %d in %s, peak RSS %.1f MiB: %s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond),
		float64(r.rss)/(1<<20), strings.TrimSpace(r.stderr))
	return r
}

// want checks that lxkit failed within most, under maxRSS, saying words.
func (r run) want(t *testing.T, most time.Duration, words ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if r.took > most {
		t.Errorf("took %s, want at most %s", r.took, most)
	}
	if r.rss > maxRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", r.rss>>20, maxRSS>>20)
	}
	for _, w := range words {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not say %q", r.stderr, w)
		}
	}
}

// TestHostileHost: the first request lxkit sends is GET /1.0 over HTTPS
// and, over a unix socket, the command's own (GET /1.0/instances for
// list; see client.WithLazyServer).
func TestHostileHost(t *testing.T) {
	endlessControl := hostile.Exec(100*time.Millisecond, nil, map[string]func(*websocket.Conn){
		"control": func(conn *websocket.Conn) { hostile.EndlessFrame(conn, websocket.TextMessage) },
	})
	for _, tc := range []struct {
		name    string
		handler http.Handler
		args    []string
		most    time.Duration
		words   []string
	}{
		{"endless body", hostile.EndlessBody, []string{"list"}, 10 * time.Second,
			[]string{"the answer to GET /1.0", "is larger than 64 MiB"}},
		{"1 GB document", hostile.HugeDocument(1<<30, false), []string{"list"}, 10 * time.Second,
			[]string{"the answer to GET /1.0", "is larger than 64 MiB"}},
		{"1 GB document announced", hostile.HugeDocument(1<<30, true), []string{"list"}, 5 * time.Second,
			[]string{"the answer to GET /1.0", "is larger than 64 MiB"}},
		{"wrong content type", hostile.WrongType, []string{"list"}, 5 * time.Second,
			[]string{"the answer to GET /1.0", "is text/html, not JSON"}},
		{"one byte a second", hostile.Trickle(time.Second), []string{"--request-timeout", "2s", "list"}, 2*time.Second + 3*time.Second,
			[]string{"the answer to GET /1.0", "took more than 2s"}},
		{"stopped daemon", hostile.Silent, []string{"--request-timeout", "1s", "list"}, time.Second + 3*time.Second,
			[]string{"no answer to GET /1.0", "within 1s (daemon stopped or overloaded?)"}},
		{"lost mid-answer", hostile.Dropped, []string{"list"}, 5 * time.Second,
			[]string{"connection to the daemon lost"}},
		{"endless event", hostile.Events(func(conn *websocket.Conn) { hostile.EndlessFrame(conn, websocket.TextMessage) }),
			[]string{"monitor"}, 5 * time.Second, []string{"an event is larger than 64 MiB"}},
		{"endless exec control message", endlessControl, []string{"exec", "c1", "--", "true"}, 5 * time.Second,
			[]string{"a message on the exec control socket is larger than 64 MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, tr := range hostile.Transports {
				t.Run(tr, func(t *testing.T) {
					s := hostile.Serve(t, tr, tc.handler)
					r := lxkit(t, s, tc.args...)
					r.want(t, tc.most, append(tc.words, s.Addr)...)
				})
			}
		})
	}
}
