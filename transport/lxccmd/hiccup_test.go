package lxccmd

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/lxkit/lxkit/transport"
)

// pullFails is a machine whose `lxc file pull` fails fails times with
// stderr, then sends "content".
type pullFails struct {
	fails  int
	stderr string
	calls  int
}

func (p *pullFails) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	p.calls++
	if p.calls <= p.fails {
		if cmd.Capture {
			return &transport.Result{Args: cmd.Args, ExitCode: 1, Stderr: []byte(p.stderr)}, nil
		}
		io.WriteString(cmd.Stderr, p.stderr)
		return &transport.Result{Args: cmd.Args, ExitCode: 1}, nil
	}
	if cmd.Capture {
		return &transport.Result{Args: cmd.Args, Stdout: []byte("content")}, nil
	}
	io.WriteString(cmd.Stdout, "content")
	return &transport.Result{Args: cmd.Args}, nil
}

func (p *pullFails) ReadFile(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("unused")
}

func (p *pullFails) WriteFile(context.Context, string, io.Reader, transport.FileOptions) error {
	return errors.New("unused")
}

// TestReadFileAsksAgainAfterFileServerHiccup: a pull the daemon failed
// before its first byte because it lost its file server is asked for again;
// other failures are not.
func TestReadFileAsksAgainAfterFileServerHiccup(t *testing.T) {
	for _, c := range []struct {
		stderr      string
		fails       int
		calls       int
		wantContent bool
	}{
		{"Error: read unix @->/proc/self/fd/386/forkfile.sock: read: connection reset by peer\n", 2, 3, true},
		{"Error: Failed getting instance SFTP connection: EOF\n", 1, 2, true},
		{"Error: read unix @->/proc/self/fd/3/forkfile.sock: read: connection reset by peer\n", 5, 3, false},
		{"Error: not found\n", 1, 1, false},
	} {
		m := &pullFails{fails: c.fails, stderr: c.stderr}
		h := &Runner{Via: m, Command: "lxc"}
		rc, err := h.Container("c").ReadFile(context.Background(), "/tmp/f")
		var got []byte
		if err == nil {
			got, err = io.ReadAll(rc)
			rc.Close()
		}
		if m.calls != c.calls || (err == nil) != c.wantContent || (c.wantContent && string(got) != "content") {
			t.Errorf("%q failing %d times: %d calls, %q, %v; want %d calls", c.stderr, c.fails, m.calls, got, err, c.calls)
		}
	}
}

// TestRecordedOutputReadAgainAfterACutPull: the captured output of a
// command is pulled again when Incus 6.0.4's pull of it was cut short
// ("NAME:PATH: EOF"); other failures are not asked again.
func TestRecordedOutputReadAgainAfterACutPull(t *testing.T) {
	for _, c := range []struct {
		stderr string
		fails  int
		calls  int
		ok     bool
	}{
		{"Error: lxkit-c:/tmp/.lxkit-exec-840f72df504c279b.err: EOF\n", 1, 2, true},
		{"Error: Failed getting instance SFTP connection: EOF\n", 2, 3, true},
		{"Error: lxkit-c:/tmp/.lxkit-exec-840f72df504c279b.err: EOF\n", 5, 3, false},
		{"Error: not found\n", 1, 1, false},
	} {
		m := &pullFails{fails: c.fails, stderr: c.stderr}
		tr := (&Runner{Via: m, Command: "incus"}).Container("c")
		got, err := tr.readRecorded(context.Background(), "/tmp/.lxkit-exec-x.err")
		if m.calls != c.calls || (err == nil) != c.ok || (c.ok && string(got) != "content") {
			t.Errorf("%q failing %d times: %d calls, %q, %v; want %d calls", c.stderr, c.fails, m.calls, got, err, c.calls)
		}
	}
}
