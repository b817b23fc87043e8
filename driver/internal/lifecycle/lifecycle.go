// Package lifecycle is the convergent container lifecycle that both
// drivers share: driver/rest runs it over HTTP, driver/cli over `lxc query`.
// Sharing it is what makes their behaviour identical.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/internal/keyed"
	"github.com/lxkit/lxkit/transport"
)

// API is the host's REST API, as the drivers reach it.
type API = driver.API

// Driver implements driver.Driver over an API, with transports from
// NewTransport.
type Driver struct {
	c            API
	newTransport func(name string) transport.Transport
	updates      keyed.Mutex
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver over c.
func New(c API, newTransport func(name string) transport.Transport) *Driver {
	return &Driver{c: c, newTransport: newTransport}
}

// Transport returns a transport into the named container.
func (d *Driver) Transport(name string) transport.Transport { return d.newTransport(name) }

// API returns the API the driver uses.
func (d *Driver) API() driver.API { return d.c }

// Create creates a container (see driver.Driver).
func (d *Driver) Create(ctx context.Context, name string, opts driver.CreateOptions) error {
	if err := driver.ValidateName(name); err != nil {
		return err
	}
	if _, _, err := d.instance(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	src, err := d.source(ctx, opts.Image)
	if err != nil {
		return err
	}
	profiles := opts.Profiles
	if profiles == nil {
		profiles = []string{"default"}
	}
	req := api.InstancesPost{
		Name:   name,
		Source: src,
		Type:   "container",
		InstancePut: api.InstancePut{
			Profiles: profiles,
			Config:   nonNil(opts.Config),
			Devices:  opts.Devices,
		},
	}
	if req.Devices == nil {
		req.Devices = map[string]map[string]string{}
	}
	if err := d.createInstance(ctx, req); err != nil {
		if errors.Is(err, errdefs.ErrConflict) {
			return nil // created meanwhile by someone else
		}
		d.cleanup(name)
		if src.Server != "" {
			err = host.PullError(err, src.Server, src.Alias+src.Fingerprint)
		}
		return fmt.Errorf("creating %s: %w", name, err)
	}
	if opts.NoStart {
		return nil
	}
	if err := d.Start(ctx, name); err != nil {
		d.cleanup(name)
		return fmt.Errorf("starting new container %s: %w", name, err)
	}
	return nil
}

// cleanup removes what a failed create left, on its own deadline since the
// caller's context may have ended.
func (d *Driver) cleanup(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = d.Delete(ctx, name)
}

// source turns an image choice into the API's source, resolving local
// aliases and fingerprint prefixes so that a missing image is a clear
// ErrNotFound.
func (d *Driver) source(ctx context.Context, img driver.Image) (api.InstanceSource, error) {
	src := api.InstanceSource{Type: "image", Alias: img.Alias, Fingerprint: img.Fingerprint,
		Properties: img.Properties, Server: img.Server, Protocol: img.Protocol, Certificate: img.Certificate}
	n := 0
	for _, set := range []bool{img.Alias != "", img.Fingerprint != "", len(img.Properties) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return src, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "image: give exactly one of alias, fingerprint or properties")
	}
	switch src.Protocol {
	case "", "lxd", "simplestreams":
	default:
		return src, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "image protocol %q: use lxd or simplestreams", src.Protocol)
	}
	if src.Server != "" {
		if src.Protocol == "" {
			src.Protocol = "lxd"
		}
		return src, nil
	}
	switch {
	case img.Alias != "":
		var alias api.ImageAliasesEntry
		_, err := d.c.Query(ctx, http.MethodGet, "/1.0/images/aliases/"+url.PathEscape(img.Alias), nil, &alias)
		if errors.Is(err, errdefs.ErrNotFound) {
			return src, errdefs.Wrap(errdefs.ErrNotFound, nil, "image alias %q not found on %s", img.Alias, d.c.Addr())
		}
		return src, err
	case img.Fingerprint != "":
		fp, err := host.New(d.c).Images().ResolveFingerprint(ctx, img.Fingerprint)
		src.Fingerprint = fp
		return src, err
	}
	return src, nil
}

// Update merges changes into a container, with its ETag; a concurrent
// change (412) makes it read and merge again.
func (d *Driver) Update(ctx context.Context, name string, opts driver.UpdateOptions) error {
	defer d.updates.Lock(name)()
	for attempt := 0; ; attempt++ {
		inst, etag, err := d.instance(ctx, name)
		if err != nil {
			return err
		}
		put := inst.InstancePut
		host.MergeConfig(&put.Config, opts.Config)
		host.MergeDevices(&put.Devices, opts.Devices)
		if opts.Profiles != nil {
			put.Profiles = opts.Profiles
		}
		err = d.updateInstance(ctx, name, put, etag)
		if retryableUpdate(err) && attempt < 20 {
			continue
		}
		if err != nil {
			return fmt.Errorf("updating %s: %w", name, err)
		}
		return nil
	}
}

// Start starts a stopped container or unfreezes a frozen one.
func (d *Driver) Start(ctx context.Context, name string) error {
	status, err := d.Status(ctx, name)
	if err != nil {
		return err
	}
	action := "start"
	switch status {
	case driver.StatusRunning:
		return nil
	case driver.StatusFrozen:
		action = "unfreeze"
	}
	err = d.setInstanceState(ctx, name, api.InstanceStatePut{Action: action, Timeout: -1})
	// Under load the daemon can give up on a start (LXD's start hook
	// timed out calling back into it; Incus's own deadline passed).
	// Nothing was started: ask again, after 1 then 3 seconds.
	for _, pause := range startPauses {
		if err == nil || !transientStart(err) || ctx.Err() != nil {
			break
		}
		time.Sleep(pause)
		err = d.setInstanceState(ctx, name, api.InstanceStatePut{Action: action, Timeout: -1})
	}
	if err != nil {
		// Someone may have started it meanwhile: the state asked for holds.
		if s, serr := d.Status(ctx, name); serr == nil && s == driver.StatusRunning {
			return nil
		}
		return fmt.Errorf("starting %s: %w", name, err)
	}
	return nil
}

// Stop stops a container, gracefully unless opts.Force.
func (d *Driver) Stop(ctx context.Context, name string, opts driver.StopOptions) error {
	status, err := d.Status(ctx, name)
	if err != nil {
		return err
	}
	if status == driver.StatusStopped {
		return nil
	}
	if opts.Force {
		// A daemon under load can fail a forced stop (Incus 6.0 once gave
		// up after 30 s waiting for the container's stop hook): ask again.
		for attempt := 1; ; attempt++ {
			err := d.setStopped(ctx, name, api.InstanceStatePut{Action: "stop", Force: true, Timeout: -1})
			if err == nil || attempt == forceAttempts || ctx.Err() != nil || errors.Is(err, errdefs.ErrNotFound) {
				return err
			}
		}
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	interval := opts.RetryInterval
	if interval <= 0 {
		interval = driver.DefaultRetryInterval
	}
	for sent := 0; ; sent++ {
		// The first requests wait less: an init that got the signal before
		// it was ready for it (a container stopped right after its start)
		// halts on the next one.
		wait := interval
		if early := time.Second << sent; sent < 4 && early < wait {
			wait = early
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = time.Until(dl)
		}
		secs := int((wait + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		err := d.setStopped(ctx, name, api.InstanceStatePut{Action: "stop", Timeout: secs})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if opts.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("stopping %s: not stopped after %s: %w", name, opts.Timeout, ctx.Err())
			}
			return fmt.Errorf("stopping %s: %w", name, ctx.Err())
		}
		if errors.Is(err, errdefs.ErrNotFound) || (opts.RetryCount > 0 && sent >= opts.RetryCount) {
			return err
		}
	}
}

// forceAttempts bounds the requests of a forced stop.
const forceAttempts = 3

// setStopped sends a stop and treats "already stopped" as success.
func (d *Driver) setStopped(ctx context.Context, name string, req api.InstanceStatePut) error {
	err := d.setInstanceState(ctx, name, req)
	if err == nil {
		return nil
	}
	if s, serr := d.Status(context.WithoutCancel(ctx), name); serr == nil && s == driver.StatusStopped {
		return nil
	}
	return fmt.Errorf("stopping %s: %w", name, err)
}

// Delete force-stops and deletes a container; a missing one is success.
func (d *Driver) Delete(ctx context.Context, name string) error {
	status, err := d.Status(ctx, name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if status != driver.StatusStopped {
		if err := d.Stop(ctx, name, driver.StopOptions{Force: true}); err != nil {
			return err
		}
	}
	err = d.deleteInstance(ctx, name)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// Status returns the container's status in lower case.
func (d *Driver) Status(ctx context.Context, name string) (string, error) {
	inst, err := d.Instance(ctx, name)
	if err != nil {
		return "", err
	}
	return strings.ToLower(inst.Status), nil
}

// Instance returns a container's configuration.
func (d *Driver) Instance(ctx context.Context, name string) (*api.Instance, error) {
	if err := driver.ValidateName(name); err != nil {
		return nil, err
	}
	inst, _, err := d.instance(ctx, name)
	return inst, d.named(name, err)
}

// State returns a container's runtime state.
func (d *Driver) State(ctx context.Context, name string) (*api.InstanceState, error) {
	if err := driver.ValidateName(name); err != nil {
		return nil, err
	}
	st, err := d.instanceState(ctx, name)
	return st, d.named(name, err)
}

// named turns the daemon's bare "not found" into one that names the
// container and the host.
func (d *Driver) named(name string, err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "container %q not found on %s", name, d.c.Addr())
	}
	return err
}

// List returns every container of the host.
func (d *Driver) List(ctx context.Context) ([]api.Instance, error) {
	all, err := d.instances(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, i := range all {
		if i.Type == "" || i.Type == "container" {
			out = append(out, i)
		}
	}
	return out, nil
}

func nonNil(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// retryableUpdate reports whether an update lost a race with another one:
// the ETag changed (412), or LXD refused a second update operation on the
// same instance while the first was still running.
func retryableUpdate(err error) bool {
	if errors.Is(err, errdefs.ErrPreconditionFailed) {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "non-reusable operation")
}

// startPauses are the waits before a start the daemon gave up on is
// asked for again.
var startPauses = []time.Duration{time.Second, 3 * time.Second}

// transientStart reports a start that the daemon gave up on: LXD's
// forkstart, when its start hook cannot reach the daemon, or Incus's own
// deadline ("context deadline exceeded" after 90 s, the caller's context
// still alive). Both were seen while another client held the daemon's
// socket accept loop (see client.New). Also a start refused with "already
// running" for a container whose status was not Running before or after
// (Incus 6.0, right after a stop): the daemon still counted the container
// as running while its stop finished. Start checks the status again
// after the last try, so a container someone else started is no error.
func transientStart(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "forkstart") || strings.Contains(msg, "context deadline exceeded") ||
		strings.Contains(msg, "already running")
}
