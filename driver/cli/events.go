package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

var _ hostapi.EventSource = queryAPI{}

// Events runs `lxc monitor --format=json` (or incus's) through the host's
// transport and calls fn for each event it prints; see hostapi.EventSource.
// The monitor subscribes to every type and filters on its side, so an
// unknown type would never match: it is refused here. When Events returns,
// the monitor has been stopped and has exited. The events the monitor
// read just before its connection broke may be lost
// (hostapi.MonitorLosesLastEvents).
func (q queryAPI) Events(ctx context.Context, opts api.EventOptions, fn func(api.Event) error) error {
	types, err := opts.EventTypes()
	if err != nil {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: %v", q.h.Addr(), err)
	}
	args := []string{"monitor", "--format=json"}
	for _, t := range types {
		args = append(args, "--type="+t)
	}
	if opts.AllProjects {
		args = append(args, "--all-projects")
	}
	if q.h.Remote != "" {
		args = append(args, q.h.Remote+":")
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	pr, pw := io.Pipe()
	ended := make(chan error, 1)
	go func() {
		err := q.h.Stream(runCtx, pw, args...)
		pw.Close() // the decoder reads what is left, then io.EOF
		ended <- err
	}()
	// finish stops the monitor and returns how it ended, once it is gone.
	finish := func() error {
		stop()
		pr.Close() // a monitor still printing gets an error, not a block
		return <-ended
	}

	// Each event is one line of JSON followed by an empty line (LXD 5.0
	// and Incus 6.0 alike); the decoder reads any layout.
	dec := json.NewDecoder(pr)
	for seen := 0; ; seen++ {
		var ev api.Event
		if err := dec.Decode(&ev); err != nil {
			runErr := finish()
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				return q.monitorEnded(runErr, seen > 0)
			}
			return errdefs.Wrap(errdefs.ErrInternal, err, "%s: decoding an event from the monitor", q.h.Addr())
		}
		if err := fn(ev); err != nil {
			_ = finish()
			return err
		}
	}
}

// monitorEnded explains a monitor that exited by itself: an error of a
// known class (a missing remote or project, a refusal, no daemon) keeps
// it; anything else, a clean exit included, is ErrUnavailable. LXD 5.0's
// lxc says only "websocket: bad handshake" when the daemon refuses the
// subscription, whatever the reason.
func (q queryAPI) monitorEnded(err error, started bool) error {
	if err != nil && !errors.Is(err, errdefs.ErrInternal) {
		return fmt.Errorf("%s: events: %w", q.h.Addr(), err)
	}
	why := "it exited"
	if err != nil {
		why = err.Error()
	}
	if started {
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: the event stream broke: %s", q.h.Addr(), why)
	}
	return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s: the event monitor failed: %s", q.h.Addr(), why)
}
