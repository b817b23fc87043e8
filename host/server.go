package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Server returns what GET /1.0 answers: the daemon, its environment and
// its configuration.
func (h *Host) Server(ctx context.Context) (*api.Server, error) {
	var s api.Server
	if _, err := h.c.Query(ctx, http.MethodGet, "/1.0", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Config returns the server's configuration, every value as a string.
func (h *Host) Config(ctx context.Context) (map[string]string, error) {
	s, err := h.Server(ctx)
	if err != nil {
		return nil, err
	}
	return stringConfig(s.Config), nil
}

func stringConfig(in map[string]any) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if s, ok := v.(string); ok {
			out[k] = s
		} else {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// SetConfig changes the server's configuration: the keys of change are
// set, those with an empty value removed. Setting a value that holds
// already is success.
func (h *Host) SetConfig(ctx context.Context, change map[string]string) error {
	defer h.updates.Lock("/1.0")()
	return retryOnRace(func() error {
		var s api.Server
		etag, err := h.c.Query(ctx, http.MethodGet, "/1.0", nil, &s)
		if err != nil {
			return err
		}
		cfg := stringConfig(s.Config)
		MergeConfig(&cfg, change)
		put := api.ServerPut{Config: map[string]any{}}
		for k, v := range cfg {
			put.Config[k] = v
		}
		if _, err = h.c.Do(ctx, http.MethodPut, "/1.0", put, etag); err != nil {
			return fmt.Errorf("setting the configuration of %s: %w", h.c.Addr(), err)
		}
		return nil
	})
}

// RestoreSnapshot brings an instance back to one of its snapshots.
func (h *Host) RestoreSnapshot(ctx context.Context, instance, snapshot string, stateful bool) error {
	snaps := h.Snapshots(instance)
	if _, err := snaps.Get(ctx, snapshot); err != nil {
		return err
	}
	body := map[string]any{"restore": snapshot, "stateful": stateful}
	if _, err := h.c.Do(ctx, http.MethodPut, hostapi.InstancePath(instance), body, ""); err != nil {
		return fmt.Errorf("restoring %s to snapshot %s: %w", instance, snapshot, err)
	}
	return nil
}

// AwaitOperation waits until an operation, of this caller or another,
// is no longer running (ended in whatever way, or gone); only ctx's end is
// an error.
func (h *Host) AwaitOperation(ctx context.Context, id string) error {
	path := "/1.0/operations/" + url.PathEscape(id)
	for {
		asked := time.Now()
		var cur api.Operation
		_, err := h.c.Query(ctx, http.MethodGet, path+"/wait?timeout=10", nil, &cur)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// Incus 6.0.4 answers the wait of a failed operation, and a
			// wait whose timeout ran out, with an error: read it.
			if _, err := h.c.Query(ctx, http.MethodGet, path, nil, &cur); err != nil {
				return nil // gone
			}
		}
		if cur.Done() {
			return nil
		}
		if time.Since(asked) < time.Second { // an answer that came at once
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
}

// Operations returns the daemon's operations, running and recently
// finished, oldest first.
func (h *Host) Operations(ctx context.Context) ([]api.Operation, error) {
	var byStatus map[string][]api.Operation
	if _, err := h.c.Query(ctx, http.MethodGet, "/1.0/operations?recursion=1", nil, &byStatus); err != nil {
		return nil, fmt.Errorf("listing operations: %w", err)
	}
	var ops []api.Operation
	for _, list := range byStatus {
		ops = append(ops, list...)
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].CreatedAt.Before(ops[j].CreatedAt) })
	return ops, nil
}

func operationPath(id string) (string, error) {
	if err := ValidateName("operation", id); err != nil {
		return "", err
	}
	return "/1.0/operations/" + url.PathEscape(id), nil
}

// Operation returns one operation; one that is gone (the daemon forgets
// finished ones after a few seconds) matches errdefs.ErrNotFound.
func (h *Host) Operation(ctx context.Context, id string) (*api.Operation, error) {
	path, err := operationPath(id)
	if err != nil {
		return nil, err
	}
	var op api.Operation
	if _, err := h.c.Query(ctx, http.MethodGet, path, nil, &op); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, errdefs.Wrap(errdefs.ErrNotFound, nil, "operation %s not found on %s", id, h.c.Addr())
		}
		return nil, err
	}
	return &op, nil
}

// CancelOperation cancels a running operation; one that has ended is
// success. Not every operation can be cancelled: the daemon says so.
func (h *Host) CancelOperation(ctx context.Context, id string) error {
	path, err := operationPath(id)
	if err != nil {
		return err
	}
	if _, err := h.c.Query(ctx, http.MethodDelete, path, nil, nil); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("cancelling operation %s: %w", id, err)
	}
	return nil
}
