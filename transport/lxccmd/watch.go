package lxccmd

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/internal/pause"
)

// Watching a command of lxc or incus that waits for an operation through
// the events websocket, which can miss the operation's end and then wait
// for ever (hostapi.OperationEndLost).
var (
	// watchAfter is how long a command runs before its operation is
	// looked for: most end well before.
	watchAfter = 2 * time.Second
	// endGrace is how long the command has to end once its operation has.
	endGrace = 3 * time.Second
)

// WatchOperation watches, while a command runs (until done is closed),
// for the daemon's operation that is the command's (find picks it among
// the daemon's operations), and waits for that operation itself. When it
// has ended and the command has not endGrace later, the command missed
// its end: WatchOperation calls stop and returns the operation as it
// ended. It returns nil when the command ends by itself, or when ctx ends.
func (h *Runner) WatchOperation(ctx context.Context, done <-chan struct{}, find func(api.Operation) bool, stop func()) *api.Operation {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel() // ends a query under way
		case <-ctx.Done():
		}
	}()
	wait := watchAfter
	var op *api.Operation
	for op == nil {
		if pause.For(ctx, wait) != nil {
			return nil
		}
		op = h.findOperation(ctx, find)
		wait = min(2*wait, 10*time.Second)
	}
	// A daemon lists an operation from its creation, "Pending" until
	// its response is sent (LXD 5.0.2 and Incus 6.0.4 start it in
	// operationResponse.Render): under load, one found then has not
	// even started (ci76: `lxc exec` was stopped 3 s later, its
	// operation "Pending"). Only a final status is an end.
	for !op.Done() {
		next, err := h.awaitOperation(ctx, op.ID)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil { // gone: it ended and was forgotten
			op.StatusCode = api.OperationCancelled
			break
		}
		op = next
	}
	select {
	case <-done:
		return nil
	case <-time.After(endGrace):
	}
	stop()
	return op
}

// findOperation returns the first of the daemon's operations that find
// picks, or nil.
func (h *Runner) findOperation(ctx context.Context, find func(api.Operation) bool) *api.Operation {
	out, err := h.Run(ctx, nil, "query", h.QueryTarget("/1.0/operations?recursion=1"))
	if err != nil {
		return nil
	}
	var byStatus map[string][]api.Operation
	if json.Unmarshal(out, &byStatus) != nil {
		return nil
	}
	for _, ops := range byStatus {
		for i := range ops {
			if find(ops[i]) {
				return &ops[i]
			}
		}
	}
	return nil
}

// awaitOperation waits up to 30 s for an operation to end, and returns
// it as it is then.
func (h *Runner) awaitOperation(ctx context.Context, id string) (*api.Operation, error) {
	path := "/1.0/operations/" + url.PathEscape(id)
	out, err := h.Run(ctx, nil, "query", h.QueryTarget(path+"/wait?timeout=30"))
	if err != nil {
		// Incus 6.0.4 answers the wait of a failed operation with its
		// failure: read the operation.
		if out, err = h.Run(ctx, nil, "query", h.QueryTarget(path)); err != nil {
			return nil, err
		}
	}
	var op api.Operation
	if err := json.Unmarshal(out, &op); err != nil {
		return nil, err
	}
	return &op, nil
}
