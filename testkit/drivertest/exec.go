package drivertest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/testkit/transporttest"
	"github.com/lxkit/lxkit/transport"
)

// Commands whose live output is checked pause before they exit: the CLI
// transport's `lxc exec` and `incus exec` can drop the output of a command
// that exits within milliseconds (see client.websocket for why). Captured
// output (recorded by the daemon) needs no pause.
func testTransport(t *testing.T, d driver.Driver) {
	name := launch(t, d, "exec")
	tr := d.Transport(name)
	ctx := testhost.Context(t, patience)

	// run reports to the subtest that calls it: FailNow on the parent
	// from a subtest would end the wrong goroutine.
	run := func(t *testing.T, cmd transport.Command) *transport.Result {
		t.Helper()
		cmd.Capture = true
		res, err := tr.Exec(ctx, cmd)
		if err != nil {
			t.Fatalf("exec %v: %v", cmd.Args, err)
		}
		return res
	}

	t.Run("StreamsAndExitCode", func(t *testing.T) {
		var out, errb bytes.Buffer
		res := run(t, transport.Command{Args: transport.Shell("echo out; echo err >&2; sleep 0.2; exit 3"), Stdout: &out, Stderr: &errb})
		if res.ExitCode != 3 || out.String() != "out\n" || errb.String() != "err\n" {
			t.Errorf("got code %d stdout %q stderr %q", res.ExitCode, out.String(), errb.String())
		}
		if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
			t.Errorf("captured %q %q", res.Stdout, res.Stderr)
		}
		var ee *transport.ExitError
		if err := res.Err(); !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(err.Error(), "err") {
			t.Errorf("Err() = %v; want an ExitError with code 3 and the stderr tail", err)
		}
	})
	t.Run("NoShellUnlessAsked", func(t *testing.T) {
		res := run(t, transport.Command{Args: []string{"echo", "$HOME", "a b", "*"}})
		if string(res.Stdout) != "$HOME a b *\n" {
			t.Errorf("argv went through a shell: %q", res.Stdout)
		}
	})
	t.Run("BytesNoHopCarries", func(t *testing.T) {
		// NUL never crosses; invalid UTF-8 cannot cross the JSON exec API.
		// Either is a clear error, never a changed argument.
		for _, cmd := range []transport.Command{
			{Args: []string{"echo", "a\x00b"}},
			{Args: []string{"echo", "a\xffb"}},
			{Args: []string{"true"}, Env: map[string]string{"X": "a\xffb"}},
		} {
			res, err := tr.Exec(ctx, cmd)
			if err == nil || !(strings.Contains(err.Error(), "NUL") || strings.Contains(err.Error(), "UTF-8")) {
				t.Errorf("exec %q env %q: %v, %v; want a clear error", cmd.Args, cmd.Env, res, err)
			}
		}
	})
	t.Run("MissingCommand", func(t *testing.T) {
		res := run(t, transport.Command{Args: []string{"no-such-command"}})
		if res.ExitCode != 127 {
			t.Errorf("exit code %d; want 127", res.ExitCode)
		}
		if _, err := transport.Run(ctx, tr, "no-such-command"); err == nil || !strings.Contains(err.Error(), "127") {
			t.Errorf("Run of a missing command: %v", err)
		}
	})
	t.Run("Stdin", func(t *testing.T) {
		in := strings.Repeat("line of input\n", 10000)
		res := run(t, transport.Command{Args: transport.Shell("cat; sleep 0.2"), Stdin: strings.NewReader(in)})
		if string(res.Stdout) != in {
			t.Errorf("cat returned %d bytes; want %d", len(res.Stdout), len(in))
		}
		res = run(t, transport.Command{Args: []string{"wc", "-c"}})
		if strings.TrimSpace(string(res.Stdout)) != "0" {
			t.Errorf("nil stdin: wc -c = %q", res.Stdout)
		}
	})
	t.Run("EnvCwd", func(t *testing.T) {
		res := run(t, transport.Command{Args: transport.Shell(`echo "$FOO|$BAR|$(pwd)"`),
			Env: map[string]string{"FOO": "one two", "BAR": "$x'\""}, Dir: "/etc"})
		if got := string(res.Stdout); got != "one two|$x'\"|/etc\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("User", func(t *testing.T) {
		res := run(t, transport.Command{Args: transport.Shell(`echo "$(id -u) $(id -g) $HOME $(pwd)"`), User: "lxkit"})
		if got := string(res.Stdout); got != "1000 1000 /home/lxkit /home/lxkit\n" {
			t.Errorf("as lxkit: %q", got)
		}
		res = run(t, transport.Command{Args: []string{"id", "-u"}, User: "1000", Group: "0"})
		if string(res.Stdout) != "1000\n" {
			t.Errorf("as uid 1000: %q", res.Stdout)
		}
		res = run(t, transport.Command{Args: []string{"id", "-g"}, User: "lxkit", Group: "root"})
		if string(res.Stdout) != "0\n" {
			t.Errorf("as lxkit:root: %q", res.Stdout)
		}
		if _, err := tr.Exec(ctx, transport.Command{Args: []string{"true"}, User: "nobody-here"}); err == nil || !strings.Contains(err.Error(), "nobody-here") {
			t.Errorf("unknown user: %v", err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		start := time.Now()
		res, err := tr.Exec(ctx, transport.Command{Args: []string{"sleep", "60"}, Timeout: 500 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("timeout: err = %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("timeout took %s", took)
		}
		if res == nil || res.ExitCode == 0 {
			t.Errorf("timed-out result %+v; want a signal exit code", res)
		}
		// A process that ignores SIGTERM is killed after the grace period.
		start = time.Now()
		_, err = tr.Exec(ctx, transport.Command{Args: transport.Shell("trap '' TERM; sleep 60"), Timeout: 300 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Errorf("TERM-ignoring command: %v after %s", err, time.Since(start))
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(300 * time.Millisecond); cancel() }()
		start := time.Now()
		_, err := tr.Exec(cctx, transport.Command{Args: []string{"sleep", "60"}})
		if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
			t.Errorf("cancel: %v after %s", err, time.Since(start))
		}
	})
	t.Run("TTY", func(t *testing.T) {
		res := run(t, transport.Command{Args: transport.Shell("tty; stty size; sleep 0.2"), TTY: true, Size: transport.WindowSize{Width: 100, Height: 40}})
		got := strings.ReplaceAll(string(res.Stdout), "\r", "")
		if !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "40 100") {
			t.Errorf("tty output %q", got)
		}
	})
	t.Run("LiveOutput", func(t *testing.T) {
		// The first line must arrive while the command still runs: the
		// command waits (a minute at most) for a file that the test
		// writes only once that line has come, and says so. No clock
		// decides, so a slow machine cannot make this fail.
		flag := "/tmp/lxkit-live-" + testhost.Name("")
		w := &firstWrite{at: make(chan time.Time, 1)}
		wrote := make(chan error, 1)
		go func() {
			<-w.at
			wrote <- tr.WriteFile(ctx, flag, strings.NewReader(""), transport.FileOptions{})
		}()
		res := run(t, transport.Command{Args: transport.Shell(`echo first; i=0; while [ ! -e ` + flag + ` ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; [ -e ` + flag + ` ] && echo second`), Stdout: w})
		if string(res.Stdout) != "first\nsecond\n" {
			t.Errorf("output %q: the first line did not arrive while the command ran", res.Stdout)
		}
		select {
		case err := <-wrote:
			if err != nil {
				t.Error(err)
			}
		default:
		}
	})
	t.Run("LargeOutput", func(t *testing.T) { transporttest.LargeOutput(t, tr) })
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := transport.Run(ctx, tr, "echo", strings.Repeat("x", i))
				if err != nil || out != strings.Repeat("x", i)+"\n" {
					t.Errorf("concurrent exec %d: %q %v", i, out, err)
				}
			}()
		}
		wg.Wait()
	})
}

type firstWrite struct {
	once sync.Once
	at   chan time.Time
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { w.at <- time.Now() })
	return len(p), nil
}
