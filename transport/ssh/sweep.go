package ssh

import (
	"context"
	"io"
	"time"

	"github.com/lxkit/lxkit/internal/marker"
	"github.com/lxkit/lxkit/internal/shquote"
	"github.com/lxkit/lxkit/transport"
)

// sweep sends sig to every process whose environment holds marker m, over
// a session of its own.
func (t *Transport) sweep(m, sig string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := t.open(ctx, true)
	if err != nil {
		return
	}
	defer s.close()
	line, err := shquote.Join(marker.SignalArgv(m, sig))
	if err != nil || s.start(ctx, line, false, transport.WindowSize{}, "") != nil {
		return
	}
	_ = s.ch.CloseWrite()
	go func() { _, _ = io.Copy(io.Discard, s.ch) }()
	go func() { _, _ = io.Copy(io.Discard, s.ch.Stderr()) }()
	select {
	case <-s.status:
	case <-s.closed:
	case <-ctx.Done():
	}
}
