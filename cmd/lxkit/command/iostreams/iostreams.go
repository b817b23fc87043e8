// Package iostreams holds the standard streams of one lxkit run and what is
// known about them (which are terminals, the terminal's size). Commands
// print only through an IOStreams, so tests can swap in buffers with Test.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the streams a command reads and writes.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	stdinFd, stdoutFd              int // -1 when not a file
}

// System returns the process's own streams.
func System() *IOStreams {
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		stdinFd:   int(os.Stdin.Fd()),
		stdoutFd:  int(os.Stdout.Fd()),
	}
}

// Test returns streams backed by buffers: stdin reads in, and what a
// command prints lands in out and errOut. No stream is a terminal until a
// Set*TTY method says so.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, stdinFd: -1, stdoutFd: -1}, in, out, errOut
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides terminal detection, for tests.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides terminal detection, for tests.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection, for tests.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// MakeStdinRaw puts a terminal stdin in raw mode and returns the function
// that restores it. It does nothing (and restore is a no-op) when stdin is
// not a terminal.
func (s *IOStreams) MakeStdinRaw() (restore func(), err error) {
	if !s.stdinTTY || s.stdinFd < 0 {
		return func() {}, nil
	}
	old, err := term.MakeRaw(s.stdinFd)
	if err != nil {
		return func() {}, err
	}
	return func() { _ = term.Restore(s.stdinFd, old) }, nil
}

// TerminalSize returns the size of the terminal on stdout (or else stdin),
// and ok=false when neither is a terminal.
func (s *IOStreams) TerminalSize() (width, height int, ok bool) {
	for _, fd := range []struct {
		tty bool
		fd  int
	}{{s.stdoutTTY, s.stdoutFd}, {s.stdinTTY, s.stdinFd}} {
		if !fd.tty || fd.fd < 0 {
			continue
		}
		if w, h, err := term.GetSize(fd.fd); err == nil {
			return w, h, true
		}
	}
	return 0, 0, false
}
