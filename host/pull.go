package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/pause"
)

// Pull makes the host's daemon pull an image from src: it POSTs body to
// path (an api.ImagesPost to /1.0/images, or an api.InstancesPost whose
// source is on src to /1.0/instances) and follows the operation this
// starts to its end, calling progress, if not nil, with the daemon's
// progress lines. ref names the image on src, for the check and for
// messages; empty checks no image's files.
//
// Before the daemon is asked, lxkit reads a simplestreams server's index
// and product files itself (unless src.SkipIndexCheck) and refuses, with
// an error matching errdefs.ErrIntegrity, what the daemon should not act
// on: an item path that is absolute or has a ".." element, a hash or
// fingerprint that is not a SHA-256, a document larger than MaxIndexSize
// or MaxProductsSize, a file of the image ref names whose size on the
// server is not the index's. A document that does not come whole within
// src.Stall is refused as errdefs.ErrUnavailable.
//
// While the daemon pulls, an operation that reports nothing new for
// src.Stall is given up (errdefs.ErrUnavailable), and so is one whose ctx
// ends (ctx's error). Pull then cancels it where the daemon can; where it
// cannot (LXD 5.0.2 and Incus 6.0.4 cannot while they read a server's
// documents, which they read whole and without a deadline), it goes on
// until the server ends its answer. Either way the error is an
// *AbandonedError, which names the operation and whether it Ended. The
// daemon's own refusals are classified by hostapi.PullError.
func (h *Host) Pull(ctx context.Context, src ImageServer, ref, path string, body any, progress func(Progress)) (*api.Operation, error) {
	src, err := src.check()
	if err != nil {
		return nil, err
	}
	if src.Protocol == ProtocolSimpleStreams && !src.SkipIndexCheck {
		if err := checkIndex(ctx, src, ref); err != nil {
			return nil, err
		}
	}
	st, ok := h.c.(hostapi.Starter)
	if !ok {
		return nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s cannot start operations without waiting", h.c.Addr())
	}
	op, err := st.Start(ctx, http.MethodPost, path, body, "")
	if err != nil {
		return nil, hostapi.PullError(err, src.URL, ref)
	}
	if op == nil {
		return nil, errdefs.Wrap(errdefs.ErrInternal, nil, "POST %s on %s: no operation to follow", path, h.c.Addr())
	}
	op, err = h.follow(ctx, op, src.stall(), progress)
	if oe := (*errdefs.OperationError)(nil); errors.As(err, &oe) {
		return op, hostapi.PullError(err, src.URL, ref) // the daemon's words
	}
	if err != nil {
		return op, fmt.Errorf("pulling %s from %s: %w", ref, src.URL, err)
	}
	return op, nil
}

// follow follows an operation to its end, reporting its progress lines.
// A stall above zero bounds how long it may go without news (a change of
// its metadata). When ctx ends or the operation stalls, follow gives it
// up (see abandon).
func (h *Host) follow(ctx context.Context, op *api.Operation, stall time.Duration, progress func(Progress)) (*api.Operation, error) {
	path := "/1.0/operations/" + url.PathEscape(op.ID)
	news, seen := time.Now(), newsOf(op)
	last := ""
	for !op.Done() {
		var next api.Operation
		asked := time.Now()
		_, err := h.c.Query(ctx, http.MethodGet, path+"/wait?timeout=1", nil, &next)
		if err != nil && ctx.Err() == nil {
			// Incus 6.0.4 answers a wait with the failure of the operation
			// instead of the operation, and a wait whose timeout ran out
			// with "context deadline exceeded": read the operation.
			if _, gerr := h.c.Query(ctx, http.MethodGet, path, nil, &next); gerr == nil {
				err = nil
				if !next.Done() && time.Since(asked) < time.Second {
					select { // an error that came at once: not the wait's end
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			}
		}
		if ctx.Err() != nil {
			return op, h.abandon(op, fmt.Errorf("operation %s (%s) on %s: %w", op.ID, op.Description, h.c.Addr(), ctx.Err()))
		}
		if err != nil {
			return op, err
		}
		op = &next
		if n := newsOf(op); n != seen {
			news, seen = time.Now(), n
		}
		if text := progressText(op); progress != nil && text != last && !op.Done() {
			last = text
			progress(Progress{Text: text})
		}
		if stall > 0 && !op.Done() && time.Since(news) > stall {
			return op, h.abandon(op, errdefs.Wrap(errdefs.ErrUnavailable, nil,
				"operation %s (%s) on %s: no progress for %s: given up", op.ID, op.Description, h.c.Addr(), stall))
		}
	}
	if progress != nil {
		progress(Progress{Text: last, Done: true})
	}
	if op.StatusCode != api.OperationSuccess {
		return op, &errdefs.OperationError{ID: op.ID, Description: op.Description, Status: op.Status, Err: op.Err}
	}
	return op, nil
}

// newsOf is what changes when an operation has news: its status and
// metadata (progress lines among them).
func newsOf(op *api.Operation) string {
	b, _ := json.Marshal(op.Metadata) // sorted keys: the same map, the same bytes
	return op.Status + string(b)
}

// AbandonedError is an operation that lxkit gave up on: its context
// ended, or it had no news for the image server's Stall.
type AbandonedError struct {
	Operation string // the daemon's operation ID
	// Ended is whether the operation is over: cancelled by the daemon,
	// or ended meanwhile. When it is not, it may still run (and finish).
	Ended bool
	Err   error  // why: the context's error, or one matching errdefs.ErrUnavailable
	state string // what became of it
}

func (e *AbandonedError) Error() string { return e.Err.Error() + "; " + e.state }
func (e *AbandonedError) Unwrap() error { return e.Err }

// abandon cancels an operation given up for why, on its own deadline
// since ctx may have ended, and says what became of it.
func (h *Host) abandon(op *api.Operation, why error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := &AbandonedError{Operation: op.ID, Err: why}
	// Whether it may be cancelled now, not when it started (a download
	// becomes cancellable once its files download); unknown, ask anyway.
	cur, err := h.Operation(ctx, op.ID)
	switch {
	case err == nil && cur.Done():
		e.Ended, e.state = true, "the operation ended meanwhile: "+cur.Status+" "+cur.Err
		return e
	case err == nil && !cur.MayCancel:
		e.state = "the daemon cannot cancel it at this stage (LXD 5.0.2 and Incus 6.0.4 cannot while they read an image server's documents): it goes on until the server ends its answer"
		return e
	}
	if err := h.CancelOperation(ctx, op.ID); err != nil {
		e.state = "cancelling it failed: " + err.Error()
		return e
	}
	for {
		cur, err = h.Operation(ctx, op.ID)
		if errors.Is(err, errdefs.ErrNotFound) || err == nil && cur.Done() {
			e.Ended, e.state = true, "the daemon cancelled it"
			return e
		}
		if ctx.Err() != nil {
			e.state = "the daemon was asked to cancel it and has not yet"
			return e
		}
		_ = pause.For(ctx, 100*time.Millisecond)
	}
}
