package ssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/lxkit/lxkit/internal/marker"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/transport"
)

// Sweep is what one sweep did, for a test to see why a process outlived
// its command.
type Sweep struct {
	Signal    string
	Start     time.Time
	Took      time.Duration
	Processes string // the pids signalled, as the script printed them
	Err       error
}

// sweep sends sig to every process whose environment holds marker m, over
// a session of its own.
func (t *Transport) sweep(m, sig string) {
	sw := Sweep{Signal: sig, Start: time.Now()}
	sw.Processes, sw.Err = t.signalMarked(m, sig)
	sw.Took = time.Since(sw.Start)
	if t.trace != nil {
		t.trace(sw)
	}
}

// signalMarked runs the marker's script and returns what it printed.
func (t *Transport) signalMarked(m, sig string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := t.open(ctx, true)
	if err != nil {
		return "", err
	}
	defer s.close()
	line, err := shquote.Join(marker.SignalArgv(m, sig))
	if err != nil {
		return "", err
	}
	if err := s.start(ctx, line, false, transport.WindowSize{}, ""); err != nil {
		return "", err
	}
	_ = s.ch.CloseWrite()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() { _, _ = io.Copy(&out, io.LimitReader(s.ch, 64<<10)); close(read) }()
	go func() { _, _ = io.Copy(io.Discard, s.ch.Stderr()) }()
	select {
	case <-s.status:
	case <-s.closed:
		return "", errors.New("the session closed without an exit status")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case <-read:
		return strings.TrimSpace(out.String()), nil
	case <-time.After(time.Second):
		return "", errors.New("signalled, its output not read within a second")
	}
}
