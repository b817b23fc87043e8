package host

import (
	"context"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Events calls fn for each event of the host of the types opts asks for,
// until ctx ends (Events then returns ctx.Err()), fn returns an error
// (returned as it is) or the stream breaks (an error matching
// errdefs.ErrUnavailable that names the host); see hostapi.EventSource.
// An API that cannot stream events gives errdefs.ErrNotImplemented; a
// type that is not one of api.EventTypes, errdefs.ErrInvalidArgument.
//
// Events that happen before the subscription is in place are not seen;
// nothing tells when it is.
func (h *Host) Events(ctx context.Context, opts api.EventOptions, fn func(api.Event) error) error {
	src, ok := h.c.(hostapi.EventSource)
	if !ok {
		return errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s: this API (%T) cannot stream events", h.c.Addr(), h.c)
	}
	return src.Events(ctx, opts, fn)
}

// LifecycleAction returns a lifecycle event's action ("instance-started")
// and source ("/1.0/instances/c1"; outside the default project the
// source ends with "?project=P"), or empty strings for other events.
func LifecycleAction(ev api.Event) (action, source string) {
	if ev.Type != api.EventTypeLifecycle {
		return "", ""
	}
	action, _ = ev.Metadata["action"].(string)
	source, _ = ev.Metadata["source"].(string)
	return action, source
}
