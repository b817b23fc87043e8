package host

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// scripted is an API whose operation goes through the states of ops, one
// per poll: progress the real daemons report too fast to catch on demand.
type scripted struct {
	ops       []api.Operation
	polls     int
	cancelled bool
	block     chan struct{} // when set, polls wait on it (to cancel)
}

func (s *scripted) Addr() string { return "scripted" }

func (s *scripted) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	switch {
	case method == http.MethodDelete && strings.HasPrefix(path, "/1.0/operations/op1"):
		s.cancelled = true
		return "", nil
	case method == http.MethodGet && strings.HasPrefix(path, "/1.0/operations/op1/wait"):
		if s.block != nil {
			select {
			case <-s.block:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		*out.(*api.Operation) = s.ops[s.polls]
		s.polls++
		return "", nil
	}
	return "", errdefs.Wrap(errdefs.ErrNotFound, nil, "%s %s", method, path)
}

func (s *scripted) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	return nil, errors.New("unexpected Do")
}

func (s *scripted) Start(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	return &api.Operation{ID: "op1", StatusCode: api.OperationRunning, MayCancel: true}, nil
}

func running(meta map[string]any) api.Operation {
	return api.Operation{ID: "op1", StatusCode: api.OperationRunning, Metadata: meta}
}

func TestProgressReports(t *testing.T) {
	s := &scripted{ops: []api.Operation{
		running(nil),
		running(map[string]any{"download_progress": "rootfs: 10% (5MB/s)"}),
		running(map[string]any{"download_progress": "rootfs: 10% (5MB/s)"}), // unchanged: not reported again
		running(map[string]any{"create_image_from_container_pack_progress": "Image pack: 60%"}),
		running(map[string]any{"progress": map[string]any{"text": "Unpack: 90%"}}),
		{ID: "op1", StatusCode: api.OperationSuccess, Metadata: map[string]any{"fingerprint": "abc"}},
	}}
	var got []string
	op, err := New(s).Images().run(context.Background(), api.ImagesPost{}, func(p Progress) {
		if p.Done {
			got = append(got, "done:"+p.Text)
		} else {
			got = append(got, p.Text)
		}
	})
	if err != nil || op.Metadata["fingerprint"] != "abc" {
		t.Fatalf("run: %+v, %v", op, err)
	}
	want := []string{"rootfs: 10% (5MB/s)", "Image pack: 60%", "Unpack: 90%", "done:Unpack: 90%"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("reports %q, want %q", got, want)
	}
}

func TestProgressFailure(t *testing.T) {
	s := &scripted{ops: []api.Operation{
		{ID: "op1", StatusCode: api.OperationFailure, Status: "Failure", Err: "Failed to download: no space left"},
	}}
	_, err := New(s).Images().run(context.Background(), api.ImagesPost{}, func(Progress) {})
	var opErr *errdefs.OperationError
	if !errors.As(err, &opErr) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("run: %v, want the operation's error", err)
	}
}

func TestProgressCancel(t *testing.T) {
	s := &scripted{block: make(chan struct{}), ops: []api.Operation{running(nil)}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(s).Images().run(ctx, api.ImagesPost{}, func(Progress) {})
	if !errors.Is(err, context.Canceled) || !s.cancelled {
		t.Fatalf("run with an ended context: %v, operation cancelled: %v", err, s.cancelled)
	}
}
