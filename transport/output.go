package transport

import (
	"bytes"
	"io"
)

// TailSize is how much of a command's output a Result keeps in Tail.
const TailSize = 4 << 10

// Output wires a Command's writers for a transport's Exec: live writers,
// optional capture, and the bounded tail kept for errors.
type Output struct {
	cmd                 Command
	stdout, stderr      bytes.Buffer
	stdoutTail, errTail tail
	stdoutW, stderrW    io.Writer
}

// NewOutput returns the writers a transport should stream cmd's output to.
func NewOutput(cmd Command) *Output {
	o := &Output{cmd: cmd}
	o.stdoutW = o.writer(cmd.Stdout, &o.stdout, &o.stdoutTail)
	o.stderrW = o.writer(cmd.Stderr, &o.stderr, &o.errTail)
	return o
}

func (o *Output) writer(live io.Writer, capture *bytes.Buffer, t *tail) io.Writer {
	ws := []io.Writer{t}
	if live != nil {
		ws = append(ws, live)
	}
	if o.cmd.Capture {
		ws = append(ws, capture)
	}
	return io.MultiWriter(ws...)
}

// Stdout is where the command's standard output goes.
func (o *Output) Stdout() io.Writer { return o.stdoutW }

// Stderr is where the command's standard error goes.
func (o *Output) Stderr() io.Writer { return o.stderrW }

// Result returns the Result of the command with this exit code.
func (o *Output) Result(code int) *Result {
	r := &Result{Args: o.cmd.Args, ExitCode: code}
	if o.cmd.Capture {
		r.Stdout, r.Stderr = o.stdout.Bytes(), o.stderr.Bytes()
	}
	r.Tail = o.errTail.bytes()
	if len(r.Tail) == 0 {
		r.Tail = o.stdoutTail.bytes()
	}
	return r
}

// tail keeps the last TailSize bytes written to it.
type tail struct{ buf []byte }

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= TailSize {
		t.buf = append(t.buf[:0], p[len(p)-TailSize:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - TailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tail) bytes() []byte { return bytes.Clone(t.buf) }
