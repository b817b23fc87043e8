package lifecycle

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
)

func (d *Driver) instances(ctx context.Context) ([]api.Instance, error) {
	var out []api.Instance
	_, err := d.c.Query(ctx, http.MethodGet, "/1.0/instances?recursion=1", nil, &out)
	return out, err
}

// instance returns one instance and its ETag.
func (d *Driver) instance(ctx context.Context, name string) (*api.Instance, string, error) {
	var out api.Instance
	etag, err := d.c.Query(ctx, http.MethodGet, hostapi.InstancePath(name), nil, &out)
	if err != nil {
		return nil, "", err
	}
	return &out, etag, nil
}

func (d *Driver) instanceState(ctx context.Context, name string) (*api.InstanceState, error) {
	var out api.InstanceState
	if _, err := d.c.Query(ctx, http.MethodGet, hostapi.InstancePath(name, "state"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// createInstance creates an instance; one from an image server's image
// is a pull (host.Pull: the server's index checked first, the operation
// given up when it stalls or ctx ends).
func (d *Driver) createInstance(ctx context.Context, req api.InstancesPost, img driver.Image) error {
	if req.Source.Server == "" {
		_, err := d.c.Do(ctx, http.MethodPost, "/1.0/instances", req, "")
		return err
	}
	src := host.ImageServer{URL: req.Source.Server, Protocol: req.Source.Protocol, Certificate: req.Source.Certificate,
		SkipIndexCheck: img.SkipIndexCheck, Stall: img.Stall}
	_, err := host.New(d.c).Pull(ctx, src, req.Source.Alias+req.Source.Fingerprint, "/1.0/instances", req, nil)
	return err
}

// awaitCreate waits while another caller's create of the instance runs:
// its record shows as soon as the create starts, long before its root is
// unpacked. A create operation that ends, in whatever way, is the end of
// the wait; a failed one has removed its record.
func (d *Driver) awaitCreate(ctx context.Context, name string) error {
	var byStatus map[string][]api.Operation
	if _, err := d.c.Query(ctx, http.MethodGet, "/1.0/operations?recursion=1", nil, &byStatus); err != nil {
		return err
	}
	want := hostapi.InstancePath(name)
	for _, op := range byStatus["running"] {
		if !hostapi.CreatesInstance(op.Description) || !slices.ContainsFunc(op.Resources["instances"], func(r string) bool {
			return strings.SplitN(r, "?", 2)[0] == want
		}) {
			continue
		}
		if err := host.New(d.c).AwaitOperation(ctx, op.ID); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// patchInstance merges body's fields into an instance.
func (d *Driver) patchInstance(ctx context.Context, name string, body map[string]any) error {
	_, err := d.c.Do(ctx, http.MethodPatch, hostapi.InstancePath(name), body, "")
	return err
}

// updateInstance replaces the writable fields of an instance. With a
// non-empty etag the daemon refuses (412) if the instance changed since.
func (d *Driver) updateInstance(ctx context.Context, name string, put api.InstancePut, etag string) error {
	_, err := d.c.Do(ctx, http.MethodPut, hostapi.InstancePath(name), put, etag)
	return err
}

func (d *Driver) setInstanceState(ctx context.Context, name string, req api.InstanceStatePut) error {
	return whenFree(ctx, func() error {
		_, err := d.c.Do(ctx, http.MethodPut, hostapi.InstancePath(name, "state"), req, "")
		return err
	})
}

func (d *Driver) deleteInstance(ctx context.Context, name string) error {
	return whenFree(ctx, func() error {
		_, err := d.c.Do(ctx, http.MethodDelete, hostapi.InstancePath(name), nil, "")
		return err
	})
}

// busyPatience bounds how long a state change waits for another operation
// on the same instance to let go of it.
var busyPatience = 30 * time.Second

// whenFree runs a state change, again while the daemon answers that the
// instance is busy with another operation. A stop's clean-up holds the
// instance's lock for a moment after its status already reads Stopped, so
// a start right after a stop can meet "Instance is busy running a "stop"
// operation" (seen on Incus); the wait is what the user asked for.
func whenFree(ctx context.Context, change func() error) error {
	deadline := time.Now().Add(busyPatience)
	for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		err := change()
		if !hostapi.Busy.In(err) || time.Now().Add(pause).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}
