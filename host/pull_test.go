package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// opAPI is a daemon with one operation, op1, whose course a test sets:
// progress lines as time goes, an end, whether it may be cancelled, and
// Incus 6.0.4's error answers to waits that time out.
type opAPI struct {
	mu        sync.Mutex
	started   time.Time
	progress  []string      // one more line every tick
	tick      time.Duration // 0: no progress ever
	endAfter  time.Duration // 0: never ends by itself
	mayCancel bool
	incusWait bool // a wait that times out answers "context deadline exceeded"
	cancelled bool
}

func (f *opAPI) Addr() string { return "fake" }

func (f *opAPI) op() api.Operation {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := api.Operation{ID: "op1", Description: "Downloading image", Status: "Running", StatusCode: api.OperationRunning,
		MayCancel: f.mayCancel, Metadata: map[string]any{}}
	elapsed := time.Since(f.started)
	if f.tick > 0 && len(f.progress) > 0 {
		n := min(int(elapsed/f.tick), len(f.progress)-1)
		op.Metadata["download_progress"] = f.progress[n]
	}
	switch {
	case f.cancelled:
		op.Status, op.StatusCode, op.MayCancel = "Cancelled", api.OperationCancelled, false
	case f.endAfter > 0 && elapsed >= f.endAfter:
		op.Status, op.StatusCode, op.MayCancel = "Success", api.OperationSuccess, false
	}
	return op
}

func (f *opAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	switch {
	case method == http.MethodDelete && path == "/1.0/operations/op1":
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.mayCancel {
			return "", &errdefs.StatusError{Status: http.StatusBadRequest, Message: "This operation can't be cancelled"}
		}
		f.cancelled = true
		return "", nil
	case method == http.MethodGet && path == "/1.0/operations/op1/wait?timeout=1":
		wait := 50 * time.Millisecond // shorter than a daemon's: the test's ticks are short
		if f.incusWait {
			wait = time.Second // Incus answers when the timeout has run out
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(wait):
		}
		op := f.op()
		if f.incusWait && !op.Done() {
			return "", &errdefs.StatusError{Status: http.StatusInternalServerError, Message: "context deadline exceeded"}
		}
		*out.(*api.Operation) = op
		return "", nil
	case method == http.MethodGet && path == "/1.0/operations/op1":
		*out.(*api.Operation) = f.op()
		return "", nil
	}
	return "", fmt.Errorf("unexpected %s %s", method, path)
}

func (f *opAPI) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	return nil, errors.New("unexpected Do")
}

func (f *opAPI) Start(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	f.started = time.Now()
	op := f.op()
	return &op, nil
}

func TestPullStalls(t *testing.T) {
	src := ImageServer{URL: "https://images.example", SkipIndexCheck: true, Stall: 300 * time.Millisecond}
	for _, c := range []struct {
		name  string
		api   *opAPI
		ended bool
		says  string
	}{
		{"no news, not cancellable", &opAPI{}, false, "the daemon cannot cancel it"},
		{"no news, cancellable", &opAPI{mayCancel: true}, true, "the daemon cancelled it"},
		{"no news after some", &opAPI{mayCancel: true, tick: 100 * time.Millisecond, progress: []string{"1%", "2%", "3%"}}, true, "no progress for 300ms"},
		{"no news, Incus's wait answers", &opAPI{incusWait: true}, false, "no progress for 300ms: given up"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := New(c.api).Pull(context.Background(), src, "web", "/1.0/images", api.ImagesPost{}, nil)
			took := time.Since(start)
			var ae *AbandonedError
			if !errors.Is(err, errdefs.ErrUnavailable) || !errors.As(err, &ae) || ae.Operation != "op1" || ae.Ended != c.ended || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Pull = %v; want an AbandonedError of op1 (ended: %v) saying %q", err, c.ended, c.says)
			}
			if !strings.Contains(err.Error(), "pulling web from https://images.example") {
				t.Errorf("%v does not name the image and its server", err)
			}
			if took > 2*time.Second {
				t.Errorf("given up after %s", took)
			}
		})
	}

	// News keeps a pull going past the stall bound, to its end (read
	// every second from Incus).
	for _, incus := range []bool{false, true} {
		f := &opAPI{tick: 500 * time.Millisecond, progress: []string{"10%", "20%", "30%", "40%", "50%", "60%"}, endAfter: 3 * time.Second, incusWait: incus}
		var lines []string
		long := ImageServer{URL: src.URL, SkipIndexCheck: true, Stall: 1500 * time.Millisecond}
		_, err := New(f).Pull(context.Background(), long, "web", "/1.0/images", api.ImagesPost{}, func(p Progress) { lines = append(lines, p.Text) })
		if err != nil || len(lines) < 3 || !strings.HasSuffix(lines[len(lines)-2], "0%") {
			t.Errorf("a pull with news every 500ms (Incus: %v): %v, progress %q", incus, err, lines)
		}
	}

	// The caller's context ends: cancelled, with ctx's error.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := New(&opAPI{mayCancel: true}).Pull(ctx, ImageServer{URL: src.URL, SkipIndexCheck: true}, "web", "/1.0/images", api.ImagesPost{}, nil)
	var ae *AbandonedError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ae) || !ae.Ended {
		t.Errorf("a pull whose context ends: %v", err)
	}
}
