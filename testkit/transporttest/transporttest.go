// Package transporttest is the behaviour suite that every transport to a
// POSIX machine must pass: streams, exit codes, stdin, environment,
// working directory, signals, terminals, timeouts and cancellation, large
// output, files with modes and owners, and folders. A transport's tests
// call Run; the assertions are the same for all.
//
// The suite needs sh, coreutils (or busybox), tar and mktemp on the
// target, and works in a scratch directory that it makes there and
// removes. Tests of owners run only when the target user is root.
package transporttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// Run runs the whole suite against tr.
func Run(t *testing.T, tr transport.Transport) {
	t.Run("Exec", func(t *testing.T) { testExec(t, tr) })
	t.Run("Stops", func(t *testing.T) { testStops(t, tr) })
	t.Run("NoProcessLeftBehind", func(t *testing.T) { testLeftovers(t, tr) })
	t.Run("LargeOutput", func(t *testing.T) { LargeOutput(t, tr) })
	t.Run("Resize", func(t *testing.T) { testResize(t, tr) })
	t.Run("Files", func(t *testing.T) { testFiles(t, tr) })
	t.Run("Folders", func(t *testing.T) { testFolders(t, tr) })
}

// Context returns a context bounded to d that ends with the test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Scratch makes a temporary directory on the target and removes it after
// the test.
func Scratch(t testing.TB, tr transport.Transport) string {
	t.Helper()
	ctx := Context(t, time.Minute)
	out, err := transport.Run(ctx, tr, "mktemp", "-d", "/tmp/lxkit-transporttest.XXXXXX")
	if err != nil {
		t.Fatalf("mktemp on the target: %v", err)
	}
	dir := strings.TrimSpace(out)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = transport.Run(ctx, tr, "rm", "-rf", dir)
	})
	return dir
}

// IsRoot reports whether the target runs commands as root.
func IsRoot(t testing.TB, tr transport.Transport) bool {
	t.Helper()
	out, err := transport.Run(Context(t, time.Minute), tr, "id", "-u")
	if err != nil {
		t.Fatalf("id -u on the target: %v", err)
	}
	return strings.TrimSpace(out) == "0"
}

func testExec(t *testing.T, tr transport.Transport) {
	dir := Scratch(t, tr)
	tests := []struct {
		name       string
		cmd        transport.Command
		code       int
		stdout     string
		stderr     string
		stderrHas  string // instead of stderr: a part of it
		liveOut    string
		liveErr    string
		stdoutLike string
	}{
		{name: "streams and exit code",
			cmd:  transport.Command{Args: transport.Shell("echo out; echo err >&2; exit 3"), Capture: true},
			code: 3, stdout: "out\n", stderr: "err\n"},
		{name: "live writers",
			cmd:  transport.Command{Args: transport.Shell("echo out; echo err >&2")},
			code: 0, liveOut: "out\n", liveErr: "err\n"},
		{name: "no shell for argv",
			cmd:  transport.Command{Args: []string{"echo", "$HOME", "a;b", "*"}, Capture: true},
			code: 0, stdout: "$HOME a;b *\n"},
		{name: "argv verbatim",
			cmd: transport.Command{Args: []string{"printf", "[%s]", "", "a b", "it's", `"$HOME"`, `back\slash`,
				"new\nline", "`id`", "$(id)", "*", "-n", "~", "ü", "a=b", "#c", "\t"}, Capture: true},
			code: 0, stdout: "[][a b][it's][\"$HOME\"][back\\slash][new\nline][`id`][$(id)][*][-n][~][ü][a=b][#c][\t]"},
		{name: "missing command",
			cmd:  transport.Command{Args: []string{"no-such-command-lxkit"}, Capture: true},
			code: 127, stderrHas: "no-such-command-lxkit"},
		{name: "stdin",
			cmd:  transport.Command{Args: []string{"cat"}, Stdin: strings.NewReader("hello\nworld\n"), Capture: true},
			code: 0, stdout: "hello\nworld\n"},
		{name: "nil stdin is empty",
			cmd:  transport.Command{Args: []string{"wc", "-c"}, Capture: true},
			code: 0, stdout: "0\n"},
		{name: "env added",
			cmd: transport.Command{Args: transport.Shell(`echo "$LXKIT_A-$LXKIT_B-$LXKIT_C-${PATH:+path}"`),
				Env: map[string]string{"LXKIT_A": "x y", "LXKIT_B": "2", "LXKIT_C": `$x'"\`}, Capture: true},
			code: 0, stdout: "x y-2-$x'\"\\-path\n"},
		{name: "dir",
			cmd:  transport.Command{Args: []string{"pwd"}, Dir: dir, Capture: true},
			code: 0, stdout: dir + "\n"},
		{name: "signalled exit code",
			cmd:  transport.Command{Args: transport.Shell("kill -9 $$")},
			code: 137},
		{name: "tty",
			cmd:        transport.Command{Args: transport.Shell("tty; stty size; echo err >&2"), TTY: true, Size: transport.WindowSize{Width: 100, Height: 30}, Capture: true},
			code:       0,
			stdoutLike: `^/dev/pts/\d+\r\n30 100\r\nerr\r\n$`},
		{name: "tty exit code",
			cmd:  transport.Command{Args: transport.Shell("exit 5"), TTY: true},
			code: 5},
		{name: "tty stdin",
			cmd:        transport.Command{Args: transport.Shell("read x; echo got:$x"), TTY: true, Stdin: strings.NewReader("abc\n"), Capture: true},
			code:       0,
			stdoutLike: `got:abc\r\n$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lo, le bytes.Buffer
			if tc.liveOut != "" || tc.liveErr != "" {
				tc.cmd.Stdout, tc.cmd.Stderr = &lo, &le
			}
			res, err := tr.Exec(Context(t, 20*time.Second), tc.cmd)
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if res.ExitCode != tc.code {
				t.Errorf("exit code %d, want %d (tail %q)", res.ExitCode, tc.code, res.Tail)
			}
			switch {
			case tc.stderrHas != "":
				if !strings.Contains(string(res.Stderr), tc.stderrHas) || len(res.Stdout) != 0 {
					t.Errorf("got stdout %q stderr %q, want stderr with %q", res.Stdout, res.Stderr, tc.stderrHas)
				}
			case tc.cmd.Capture && tc.stdoutLike == "":
				if string(res.Stdout) != tc.stdout || string(res.Stderr) != tc.stderr {
					t.Errorf("got stdout %q stderr %q, want %q %q", res.Stdout, res.Stderr, tc.stdout, tc.stderr)
				}
			}
			if tc.stdoutLike != "" {
				if !regexp.MustCompile(tc.stdoutLike).Match(res.Stdout) {
					t.Errorf("stdout %q does not match %q", res.Stdout, tc.stdoutLike)
				}
				if len(res.Stderr) != 0 {
					t.Errorf("stderr %q on a tty", res.Stderr)
				}
			}
			if tc.liveOut != "" || tc.liveErr != "" {
				if lo.String() != tc.liveOut || le.String() != tc.liveErr {
					t.Errorf("live stdout %q stderr %q, want %q %q", lo.String(), le.String(), tc.liveOut, tc.liveErr)
				}
			}
			if tc.code != 0 {
				var ee *transport.ExitError
				if !errors.As(res.Err(), &ee) || ee.Code != tc.code {
					t.Errorf("Err() = %v", res.Err())
				}
			}
		})
	}
	t.Run("stdin that never ends", func(t *testing.T) {
		// The command's end is its exit, not the end of its input.
		pr, pw := io.Pipe()
		defer pw.Close()
		start := time.Now()
		res, err := tr.Exec(Context(t, 20*time.Second), transport.Command{Args: []string{"echo", "done"}, Stdin: pr, Capture: true})
		if err != nil || res.ExitCode != 0 || string(res.Stdout) != "done\n" {
			t.Fatalf("Exec: %v %+v", err, res)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %v", took)
		}
	})
	t.Run("no command", func(t *testing.T) {
		if _, err := tr.Exec(context.Background(), transport.Command{}); err == nil {
			t.Error("Exec without Args succeeded")
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := tr.Exec(ctx, transport.Command{Args: []string{"true"}}); !errors.Is(err, context.Canceled) {
			t.Errorf("Exec with a cancelled context: %v", err)
		}
	})
}

// cancelAt is an output that calls cancel once it has seen text, and
// notes when.
type cancelAt struct {
	text   string
	cancel func()
	mu     sync.Mutex
	seen   []byte
	at     time.Time
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		c.seen = append(c.seen, p...)
		if bytes.Contains(c.seen, []byte(c.text)) {
			c.at = time.Now()
			c.cancel()
		}
	}
	return len(p), nil
}

func (c *cancelAt) cancelled() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func testStops(t *testing.T, tr transport.Transport) {
	tests := []struct {
		name   string
		cmd    transport.Command
		cancel time.Duration // cancel the context after this long; 0: never
		// cancelAt cancels the context once the output has this text;
		// the time taken then counts from the cancel.
		cancelAt string
		wantErr  error
		wantMsg  string
		min      time.Duration
		max      time.Duration
		code     int
	}{
		{name: "timeout",
			cmd:     transport.Command{Args: []string{"sleep", "60"}, Timeout: 300 * time.Millisecond},
			wantErr: context.DeadlineExceeded, wantMsg: "timed out after 300ms",
			min: 250 * time.Millisecond, max: 1500 * time.Millisecond, code: 128 + 15},
		// Cancelled once the trap is set: a TERM sent before the shell
		// has read its script (a timeout of 200 ms on a loaded machine,
		// in ci24) ends it with 143, as it should.
		{name: "TERM ignored: killed after the grace",
			cmd:      transport.Command{Args: transport.Shell(`trap "" TERM; echo trapped; sleep 60; echo survived`)},
			cancelAt: "trapped",
			wantErr:  context.Canceled,
			min:      2 * time.Second, max: 4 * time.Second, code: 128 + 9},
		{name: "cancel",
			cmd:     transport.Command{Args: []string{"sleep", "60"}},
			cancel:  200 * time.Millisecond,
			wantErr: context.Canceled,
			min:     150 * time.Millisecond, max: 1500 * time.Millisecond, code: 128 + 15},
		{name: "tty timeout",
			cmd:     transport.Command{Args: []string{"sleep", "60"}, TTY: true, Timeout: 300 * time.Millisecond},
			wantErr: context.DeadlineExceeded,
			min:     250 * time.Millisecond, max: 1500 * time.Millisecond, code: 128 + 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel > 0 {
				time.AfterFunc(tc.cancel, cancel)
			}
			start := time.Now()
			var at *cancelAt
			if tc.cancelAt != "" {
				at = &cancelAt{text: tc.cancelAt, cancel: cancel}
				tc.cmd.Stdout = at
			}
			res, err := tr.Exec(ctx, tc.cmd)
			took := time.Since(start)
			if at != nil {
				if at.cancelled().IsZero() {
					t.Fatalf("the output never said %q: %v", tc.cancelAt, err)
				}
				took = time.Since(at.cancelled())
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err %q lacks %q", err, tc.wantMsg)
			}
			if res == nil {
				t.Fatal("no Result with the error")
			}
			if res.ExitCode != tc.code {
				t.Errorf("exit code %d, want %d", res.ExitCode, tc.code)
			}
			if took < tc.min || took > tc.max {
				t.Errorf("took %v, want between %v and %v", took, tc.min, tc.max)
			}
		})
	}
}

// Tag returns a fresh "sleep" duration, such as 600.4821937, that names
// the processes of one test: Running finds them again by it.
func Tag() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return "600." + strconv.FormatUint(uint64(n%1e9), 10)
}

// Running counts the processes on the target whose command line holds
// "sleep TAG", waiting up to wait for there to be none.
func Running(t testing.TB, tr transport.Transport, tag string, wait time.Duration) int {
	t.Helper()
	// The pattern is written so that it does not match its own command line.
	pattern := "sleep " + strings.ReplaceAll(tag, ".", "[.]")
	script := `for p in /proc/[0-9]*; do tr '\0' ' ' <"$p/cmdline" 2>/dev/null; echo; done | grep -c -e "$1" || true`
	deadline := time.Now().Add(wait)
	for {
		out, err := transport.Run(Context(t, time.Minute), tr, "/bin/sh", "-c", script, "sh", pattern)
		if err != nil {
			t.Fatalf("counting processes: %v", err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("counting processes: unexpected output %q", out)
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Processes describes the processes on the target whose command line
// holds "sleep TAG", for a failure's message: pid, state, parent, group,
// session, the marker in its environment and the command line.
func Processes(t testing.TB, tr transport.Transport, tag string) string {
	t.Helper()
	pattern := "sleep " + strings.ReplaceAll(tag, ".", "[.]")
	script := `for p in /proc/[0-9]*; do
  c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
  echo "$c" | grep -q -e "$1" || continue
  s=$(cut -d' ' -f1,3-6 "$p/stat" 2>/dev/null)
  e=$(tr '\0' '\n' <"$p/environ" 2>/dev/null | grep '^LXKIT_EXEC_ID=')
  echo "$s ${e:-no-marker} $c"
done 2>/dev/null`
	out, err := transport.Run(Context(t, time.Minute), tr, "/bin/sh", "-c", script, "sh", pattern)
	if err != nil {
		return fmt.Sprintf("(listing them: %v)", err)
	}
	return out
}

// testLeftovers: a stopped command's background children are stopped too.
func testLeftovers(t *testing.T, tr transport.Transport) {
	tag := Tag()
	_, err := tr.Exec(context.Background(), transport.Command{
		Args:    transport.Shell("sleep " + tag + " & sleep " + tag + " >/dev/null 2>&1 & sleep " + tag),
		Timeout: 300 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if n := Running(t, tr, tag, 3*time.Second); n != 0 {
		t.Errorf("%d processes of the stopped command still run", n)
	}
}

// LargeOutput checks that 100 MiB of output arrive whole, live and
// captured: a test that every transport, machine or container, must pass.
func LargeOutput(t *testing.T, tr transport.Transport) {
	const size = 100 << 20
	h := sha256.New()
	var n countWriter
	start := time.Now()
	res, err := tr.Exec(Context(t, 5*time.Minute), transport.Command{
		Args:   transport.Shell("yes 0123456789abcdef | head -c " + strconv.Itoa(size)),
		Stdout: io.MultiWriter(h, &n)})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Exec: %v, %+v", err, res)
	}
	took := time.Since(start)
	want := sha256.New()
	_, _ = io.CopyN(want, &repeat{s: "0123456789abcdef\n"}, size)
	if n.n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Errorf("got %d bytes (want %d), hash match %v", n.n, size, bytes.Equal(h.Sum(nil), want.Sum(nil)))
	}
	t.Logf("100 MiB of output in %v (%.0f MB/s)", took, float64(size)/took.Seconds()/1e6)

	// Captured too, and the tail kept.
	res, err = tr.Exec(Context(t, time.Minute), transport.Command{
		Args: []string{"head", "-c", strconv.Itoa(10 << 20), "/dev/zero"}, Capture: true})
	if err != nil || res.ExitCode != 0 || len(res.Stdout) != 10<<20 || len(res.Tail) != transport.TailSize {
		t.Fatalf("captured: %v, code %v, %d bytes, tail %d", err, res.ExitCode, len(res.Stdout), len(res.Tail))
	}
	if bytes.IndexFunc(res.Stdout, func(r rune) bool { return r != 0 }) >= 0 {
		t.Error("output corrupted")
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// repeat reads s over and over.
type repeat struct {
	s   string
	off int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

func testResize(t *testing.T, tr transport.Transport) {
	resize := make(chan transport.WindowSize, 1)
	resize <- transport.WindowSize{Width: 132, Height: 50}
	close(resize)
	res, err := tr.Exec(Context(t, 20*time.Second), transport.Command{
		Args: transport.Shell("sleep 0.3; stty size"), TTY: true, Size: transport.WindowSize{Width: 80, Height: 24},
		Resize: resize, Capture: true})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Exec: %v, %+v", err, res)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "50 132" {
		t.Errorf("stty size after resize = %q", got)
	}
}

// Stat returns "MODE UID GID" of p on the target (mode in octal).
func Stat(t testing.TB, tr transport.Transport, p string) string {
	t.Helper()
	out, err := transport.Run(Context(t, time.Minute), tr, "stat", "-c", "%a %u %g", p)
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return strings.TrimSpace(out)
}

func testFiles(t *testing.T, tr transport.Transport) {
	dir := Scratch(t, tr)
	root := IsRoot(t, tr)
	ids, err := transport.Run(Context(t, time.Minute), tr, "/bin/sh", "-c", `echo "$(id -u) $(id -g)"`)
	if err != nil {
		t.Fatal(err)
	}
	me := strings.TrimSpace(ids)
	tests := []struct {
		name     string
		opts     transport.FileOptions
		existing string // "MODE UID:GID" of a file there before, if any
		want     string // "MODE UID GID"
		root     bool
	}{
		{name: "default", want: "644 " + me},
		{name: "mode", opts: transport.FileOptions{Mode: 0o600}, want: "600 " + me},
		{name: "replaces", existing: "600", opts: transport.FileOptions{Mode: 0o755}, want: "755 " + me},
		{name: "replaces, default mode", existing: "755", want: "644 " + me},
		{name: "owner", opts: transport.FileOptions{UID: transport.Int(1234), GID: transport.Int(4321), Mode: 0o640},
			want: "640 1234 4321", root: true},
		{name: "uid only", opts: transport.FileOptions{UID: transport.Int(1234)},
			want: "644 1234 " + strings.Fields(me)[1], root: true},
		{name: "replaces another's file", existing: "644 1234:4321", want: "644 " + me, root: true},
	}
	ctx := Context(t, 5*time.Minute)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && !root {
				testhost.Unavailable(t, "needs root on the target")
			}
			p := path.Join(dir, strconv.Itoa(i))
			if tc.existing != "" {
				mode, owner, _ := strings.Cut(tc.existing, " ")
				script := `printf '%0999d' 0 >"$1" && chmod "$2" "$1"`
				if owner != "" {
					script += ` && chown "$3" "$1"`
				}
				if _, err := transport.Run(ctx, tr, "/bin/sh", "-c", script, "sh", p, mode, owner); err != nil {
					t.Fatal(err)
				}
			}
			data := []byte("content " + tc.name + "\n\x00\xff")
			if err := transport.WriteBytes(ctx, tr, p, data, tc.opts); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			got, err := transport.ReadAll(ctx, tr, p)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadAll = %q, %v; want %q", got, err, data)
			}
			if s := Stat(t, tr, p); s != tc.want {
				t.Errorf("mode and owner %q, want %q", s, tc.want)
			}
		})
	}
	t.Run("read errors", func(t *testing.T) {
		if _, err := tr.ReadFile(ctx, dir); err == nil {
			t.Error("reading a directory succeeded")
		}
		if _, err := tr.ReadFile(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing file: %v", err)
		}
	})
	t.Run("write into a missing directory", func(t *testing.T) {
		if err := transport.WriteBytes(ctx, tr, path.Join(dir, "no", "such"), []byte("x"), transport.FileOptions{}); err == nil {
			t.Error("succeeded")
		}
	})
	t.Run("large file both ways", func(t *testing.T) {
		data := make([]byte, 24<<20+123)
		_, _ = rand.Read(data)
		p := path.Join(dir, "large")
		if err := transport.WriteBytes(ctx, tr, p, data, transport.FileOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := transport.ReadAll(ctx, tr, p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("read back %d bytes (want %d), %v", len(got), len(data), err)
		}
	})
	t.Run("read stops early", func(t *testing.T) {
		rc, err := tr.ReadFile(ctx, "/dev/zero")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Run("failed input leaves an error", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("partial"), errReader{})
		if err := tr.WriteFile(ctx, path.Join(dir, "failed"), r, transport.FileOptions{}); err == nil {
			t.Error("WriteFile with a failing reader succeeded")
		}
	})
	t.Run("upload and download file", func(t *testing.T) {
		local := t.TempDir()
		src := filepath.Join(local, "src")
		if err := os.WriteFile(src, []byte("x"), 0o751); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(src, 0o751)
		dst := path.Join(dir, "dst")
		if err := transport.UploadFile(ctx, tr, src, dst, transport.FileOptions{}); err != nil {
			t.Fatal(err)
		}
		if s := Stat(t, tr, dst); !strings.HasPrefix(s, "751 ") {
			t.Errorf("uploaded: %s", s)
		}
		back := filepath.Join(local, "back")
		if err := transport.DownloadFile(ctx, tr, dst, back); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(back); string(b) != "x" {
			t.Errorf("downloaded %q", b)
		}
		if err := transport.DownloadFile(ctx, tr, path.Join(dir, "missing"), filepath.Join(local, "missing")); err == nil {
			t.Error("download of a missing file succeeded")
		}
		if _, err := os.Stat(filepath.Join(local, "missing")); !os.IsNotExist(err) {
			t.Error("a failed download left a file behind")
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("input broke") }

// MakeTree makes a folder with files of several modes, a nested empty
// directory and symlinks (one dangling, one absolute): 12 entries, 4
// files, 3 symlinks and 5 directories with the root.
func MakeTree(t testing.TB, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub", "deep"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "empty", "emptier"), 0o755))
	must(os.WriteFile(filepath.Join(root, "a.txt"), []byte("alpha"), 0o644))
	must(os.WriteFile(filepath.Join(root, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(filepath.Join(root, "sub", "secret"), []byte("s"), 0o600))
	must(os.WriteFile(filepath.Join(root, "sub", "deep", "big"), bytes.Repeat([]byte("0123456789"), 100000), 0o640))
	must(os.Symlink("a.txt", filepath.Join(root, "link")))
	must(os.Symlink("../nowhere", filepath.Join(root, "sub", "dangling")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "abs")))
	// The modes as meant, whatever the umask took away at creation.
	for p, mode := range map[string]os.FileMode{"a.txt": 0o644, "run.sh": 0o755, "sub/secret": 0o600,
		"sub/deep/big": 0o640, "sub": 0o755, "sub/deep": 0o755, "empty": 0o700, "empty/emptier": 0o755} {
		must(os.Chmod(filepath.Join(root, p), mode))
	}
}

// Snapshot describes every entry below a local root: type, mode, content
// or target, and owner when withOwner.
func Snapshot(t testing.TB, root string, withOwner bool) map[string]string {
	t.Helper()
	return describeTree(t, root, func(p string, fi fs.FileInfo) string {
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc = "link " + target
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += " " + strconv.Itoa(len(b)) + " " + string(b[:min(len(b), 20)])
		}
		if withOwner {
			st := fi.Sys().(*syscall.Stat_t)
			desc += " " + strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid))
		}
		return desc
	})
}

// describeTree maps every entry below a local root (by relative path) to
// what describe says of it.
func describeTree(t testing.TB, root string, describe func(p string, fi fs.FileInfo) string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		m[rel] = describe(p, fi)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// shape is an entry's kind, mode and size ("file 644 5", "dir 700",
// "link a.txt"): what can be compared between this machine and a target.
func shape(kind string, mode fs.FileMode, size int64, target string) string {
	switch kind {
	case "link":
		return "link " + target
	case "dir":
		return "dir " + strconv.FormatUint(uint64(mode.Perm()), 8)
	}
	return "file " + strconv.FormatUint(uint64(mode.Perm()), 8) + " " + strconv.FormatInt(size, 10)
}

// localShapes is the shape of every entry below a local root.
func localShapes(t testing.TB, root string) map[string]string {
	t.Helper()
	return describeTree(t, root, func(p string, fi fs.FileInfo) string {
		kind, target := "file", ""
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			kind = "link"
			target, _ = os.Readlink(p)
		case fi.IsDir():
			kind = "dir"
		}
		return shape(kind, fi.Mode(), fi.Size(), target)
	})
}

// remoteShapes is the shape of every entry below root on the target.
func remoteShapes(t testing.TB, tr transport.Transport, root string) map[string]string {
	t.Helper()
	script := `cd "$1" && find . -exec stat -c '%n|%F|%a|%s' {} + && find . -type l | while read -r l; do printf '%s|link|%s\n' "$l" "$(readlink "$l")"; done`
	out, err := transport.Run(Context(t, time.Minute), tr, "/bin/sh", "-c", script, "sh", root)
	if err != nil {
		t.Fatalf("listing %s on the target: %v", root, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		rel := path.Clean(f[0])
		if f[1] == "link" {
			m[rel] = shape("link", 0, 0, f[2])
			continue
		}
		if len(f) != 4 {
			t.Fatalf("odd line %q", line)
		}
		mode, _ := strconv.ParseUint(f[2], 8, 32)
		size, _ := strconv.ParseInt(f[3], 10, 64)
		switch {
		case f[1] == "symbolic link":
			if _, ok := m[rel]; !ok {
				m[rel] = "link ?"
			}
		case f[1] == "directory":
			m[rel] = shape("dir", fs.FileMode(mode), 0, "")
		default:
			m[rel] = shape("file", fs.FileMode(mode), size, "")
		}
	}
	return m
}

// Compare reports the differences between two snapshots.
func Compare(t testing.TB, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s", k)
		}
	}
}

func testFolders(t *testing.T, tr transport.Transport) {
	ctx := Context(t, 5*time.Minute)
	src := filepath.Join(t.TempDir(), "site")
	MakeTree(t, src)
	want := Snapshot(t, src, false)
	if len(want) != 12 {
		t.Fatalf("tree has %d entries: %v", len(want), want)
	}
	remote := Scratch(t, tr)
	t.Run("upload", func(t *testing.T) {
		if err := transport.UploadFolder(ctx, tr, src, remote); err != nil {
			t.Fatal(err)
		}
		Compare(t, remoteShapes(t, tr, path.Join(remote, "site")), localShapes(t, src))
	})
	t.Run("download", func(t *testing.T) {
		dest := t.TempDir()
		sum, err := transport.DownloadFolder(ctx, tr, path.Join(remote, "site"), dest)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Files != 4 || sum.Symlinks != 3 || sum.Dirs != 5 {
			t.Errorf("summary %+v", sum)
		}
		entries, _ := os.ReadDir(dest)
		if len(entries) != 1 || entries[0].Name() != "site" {
			t.Fatalf("destination holds %v, want only site", entries)
		}
		Compare(t, Snapshot(t, filepath.Join(dest, "site"), false), want)
	})
	t.Run("missing source", func(t *testing.T) {
		if err := transport.UploadFolder(ctx, tr, filepath.Join(src, "nope"), remote); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("upload: %v", err)
		}
		if _, err := transport.DownloadFolder(ctx, tr, path.Join(remote, "nope"), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("download: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := transport.UploadFolder(cctx, tr, src, remote); !errors.Is(err, context.Canceled) {
			t.Errorf("upload with a cancelled context: %v", err)
		}
	})
}
