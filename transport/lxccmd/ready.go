package lxccmd

import (
	"bytes"
	"io"
	"sync/atomic"
)

// readyGate holds a command streamed through `lxc exec` until lxc has
// read the start of both its output streams. LXD 5.0 and Incus 6.0 ping
// each exec websocket as it connects and close it as soon as the output
// is sent; the lxc and incus clients answer the ping when they first
// read, and an answer that fails on the closed socket (the command
// already over) makes them drop the output still buffered. So the
// command (readyScript) first writes the marker on stdout and stderr and
// waits for a line of input: the gate is lxc's input, and gives that
// line once both markers came through, then the command's own input.
type readyGate struct {
	marker []byte
	shown  atomic.Int32
	seen   chan struct{} // closed once both streams showed the marker
	done   chan struct{} // closed when the exec is over
	input  io.Reader     // the command's own input, or nil
	sent   bool
}

// newReadyGate returns the gate of the marker line (marker and a newline:
// lxc's own error after it stays a line of its own, see execFailure).
func newReadyGate(marker string, input io.Reader) *readyGate {
	return &readyGate{marker: []byte(marker + "\n"), seen: make(chan struct{}), done: make(chan struct{}), input: input}
}

// Read gives the go-ahead line once both markers are through, then the
// command's input. It ends when the exec is over.
func (g *readyGate) Read(p []byte) (int, error) {
	if !g.sent {
		select {
		case <-g.seen:
		case <-g.done:
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		g.sent = true
		p[0] = '\n'
		return 1, nil
	}
	if g.input == nil {
		return 0, io.EOF
	}
	return g.input.Read(p)
}

// close ends the gate's input once the exec is over.
func (g *readyGate) close() { close(g.done) }

// filter returns w without the marker at the start of its stream.
func (g *readyGate) filter(w io.Writer) *readyFilter { return &readyFilter{g: g, w: w} }

// holdingFilter is filter for lxc's standard error: a stream that does
// not start with the marker is lxc's own, the command never having begun,
// and is held until the exec is over (flush, or discard when lxkit says
// the error itself), up to maxHeld bytes.
func (g *readyGate) holdingFilter(w io.Writer) *readyFilter {
	return &readyFilter{g: g, w: w, hold: true}
}

// maxHeld bounds what a holding filter keeps back.
const maxHeld = 64 << 10

// readyFilter passes a stream on without its leading marker. A stream
// that does not start with it (lxc's own error) is passed on whole, or
// held (holdingFilter).
type readyFilter struct {
	g       *readyGate
	w       io.Writer
	head    []byte
	passing bool
	hold    bool
	held    []byte // with hold, a stream that did not start with the marker
	marked  bool   // the marker came through: the command began
}

func (f *readyFilter) Write(p []byte) (int, error) {
	if f.passing {
		return f.w.Write(p)
	}
	if f.held != nil {
		if len(f.held)+len(p) <= maxHeld {
			f.held = append(f.held, p...)
			return len(p), nil
		}
		if err := f.flush(); err != nil {
			return 0, err
		}
		return f.w.Write(p)
	}
	n := len(p)
	take := min(len(f.g.marker)-len(f.head), len(p))
	f.head = append(f.head, p[:take]...)
	p = p[take:]
	if !bytes.HasPrefix(f.g.marker, f.head) && f.hold {
		f.held = append(f.head, p...)
		if len(f.held) > maxHeld {
			return n, f.flush()
		}
		return n, nil
	}
	if !bytes.HasPrefix(f.g.marker, f.head) {
		f.passing = true
		if _, err := f.w.Write(f.head); err != nil {
			return 0, err
		}
	} else if len(f.head) == len(f.g.marker) {
		f.passing, f.marked = true, true
		if f.g.shown.Add(1) == 2 {
			close(f.g.seen)
		}
	}
	if len(p) > 0 {
		if _, err := f.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// flush passes on the start of a stream that ended inside what looked
// like the marker, or what a holding filter held.
func (f *readyFilter) flush() error {
	if f.passing || len(f.head) == 0 {
		return nil
	}
	f.passing = true
	out := f.head
	if f.held != nil {
		out, f.held = f.held, nil
	}
	_, err := f.w.Write(out)
	return err
}

// began reports whether the stream started with the marker: the command
// began. A nil filter (a terminal's stream) cannot say: false.
func (f *readyFilter) began() bool { return f != nil && f.marked }

// discard drops what a holding filter held, and reports whether it held
// anything: lxc's own words, which the caller reports otherwise.
func (f *readyFilter) discard() bool {
	held := f.held != nil
	if held {
		f.passing, f.held = true, nil
	}
	return held
}
