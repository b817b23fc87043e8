package lifecycle

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
)

// createInstance creates an instance; one from an image server's image
// is a pull (host.Pull: the server's index checked first, the operation
// given up when it stalls or ctx ends).
func (d *Driver) createInstance(ctx context.Context, req api.InstancesPost, img driver.Image, target string) error {
	path := hostapi.WithTarget("/1.0/instances", target)
	if req.Source.Server == "" {
		_, err := d.c.Do(ctx, http.MethodPost, path, req, "")
		return err
	}
	src := host.ImageServer{URL: req.Source.Server, Protocol: req.Source.Protocol, Certificate: req.Source.Certificate,
		SkipIndexCheck: img.SkipIndexCheck, Stall: img.Stall}
	var progress func(host.Progress)
	if img.Progress != nil {
		progress = func(p host.Progress) {
			if p.Text != "" {
				img.Progress(p.Text)
			}
		}
	}
	_, err := d.h.Pull(ctx, src, req.Source.Alias+req.Source.Fingerprint, path, req, progress)
	return err
}

// awaitCreate waits while another caller's create of the instance runs:
// its record shows as soon as the create starts, long before its root is
// unpacked. A create operation that ends, in whatever way, is the end of
// the wait; a failed one has removed its record.
func (d *Driver) awaitCreate(ctx context.Context, name string) error {
	ops, err := d.h.Operations(ctx)
	if err != nil {
		return err
	}
	want := hostapi.InstancePath(name)
	for _, op := range ops {
		if op.Done() || !hostapi.CreatesInstance(op.Description) ||
			!slices.ContainsFunc(op.Resources["instances"], func(r string) bool {
				return strings.SplitN(r, "?", 2)[0] == want
			}) {
			continue
		}
		if err := d.h.AwaitOperation(ctx, op.ID); err != nil {
			return err
		}
	}
	return ctx.Err()
}
