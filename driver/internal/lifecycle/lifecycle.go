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
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/pause"
	"github.com/lxkit/lxkit/transport"
)

// API is the host's REST API, as the drivers reach it.
type API = hostapi.API

// Driver implements driver.Driver over an API, with transports from
// NewTransport.
type Driver struct {
	c            API
	h            *host.Host
	newTransport func(name string) transport.Transport
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver over c.
func New(c API, newTransport func(name string) transport.Transport) *Driver {
	return &Driver{c: c, h: host.New(c), newTransport: newTransport}
}

// Transport returns a transport into the named container.
func (d *Driver) Transport(name string) transport.Transport { return d.newTransport(name) }

// API returns the API the driver uses.
func (d *Driver) API() hostapi.API { return d.c }

// Create creates a container (see driver.Driver). It converges with other
// callers creating the same container at the same moment: a create the
// daemon refuses because another one is under way waits for that one to
// end and takes its container as made. Only a container this call made is
// deleted when its start fails.
func (d *Driver) Create(ctx context.Context, name string, opts driver.CreateOptions) error {
	if err := driver.ValidateName(name); err != nil {
		return err
	}
	made, err := d.make(ctx, name, opts)
	if opts.Made != nil {
		*opts.Made = made
	}
	if err != nil || opts.NoStart {
		return err
	}
	if made {
		err = d.start(ctx, name, "start") // made stopped just now: no status to ask
	} else {
		err = d.Start(ctx, name)
	}
	if err != nil {
		if made {
			d.cleanup(name)
		}
		return fmt.Errorf("starting new container %s: %w", name, err)
	}
	return nil
}

// make creates the container unless it exists, and reports whether this
// call made it.
func (d *Driver) make(ctx context.Context, name string, opts driver.CreateOptions) (bool, error) {
	var req *api.InstancesPost
	for attempt := 1; ; attempt++ {
		if _, err := d.h.Instances().Get(ctx, name); err == nil {
			return false, d.awaitCreate(ctx, name)
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return false, err
		}
		if req == nil {
			var src api.InstanceSource
			var err error
			if opts.Source != "" {
				src, err = d.copySource(ctx, opts)
			} else {
				src, err = d.source(ctx, opts.Image)
			}
			if err != nil {
				return false, err
			}
			req = createRequest(name, src, opts)
		}
		err := d.createInstance(ctx, *req, opts.Image, opts.Target)
		switch {
		case err == nil && opts.Source != "":
			if err := d.settleCopy(ctx, name, opts); err != nil {
				d.cleanup(name)
				return false, fmt.Errorf("creating %s as a copy of %s: %w", name, opts.Source, err)
			}
			return true, nil
		case err == nil:
			return true, nil
		case errors.Is(err, errdefs.ErrConflict):
			continue // made meanwhile by another caller: wait for it
		case hostapi.CreateRace.In(err) && attempt < createRaceAttempts && ctx.Err() == nil:
			// Another caller's create holds the name; its record may not
			// be readable yet. Look again shortly.
			if pause.For(ctx, time.Duration(attempt)*50*time.Millisecond) != nil {
				return false, fmt.Errorf("creating %s: %w", name, err)
			}
			continue
		}
		// The daemon reverts a create it failed (LXD 5.0.2, Incus 6.0.4):
		// nothing of ours is left, and anything of that name is another
		// caller's. (A pull lxkit gave up and the daemon could not cancel
		// may still make it: see host.AbandonedError.)
		if aerr := d.missingAlias(ctx, req.Source); aerr != nil {
			return false, aerr
		}
		return false, fmt.Errorf("creating %s: %w", name, err)
	}
}

// createRaceAttempts bounds the creates that lose the race to another
// caller's without that caller's record showing.
const createRaceAttempts = 20

func createRequest(name string, src api.InstanceSource, opts driver.CreateOptions) *api.InstancesPost {
	profiles := opts.Profiles
	if profiles == nil {
		profiles = []string{"default"}
	}
	req := &api.InstancesPost{
		Name:   name,
		Source: src,
		Type:   "container",
		InstancePut: api.InstancePut{
			Profiles:  profiles,
			Config:    nonNil(opts.Config),
			Devices:   opts.Devices,
			Ephemeral: opts.Ephemeral,
		},
	}
	if opts.VM {
		req.Type = "virtual-machine"
	}
	if req.Devices == nil {
		req.Devices = map[string]map[string]string{}
	}
	return req
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
	if img.Fingerprint != "" {
		fp, err := d.h.Images().ResolveFingerprint(ctx, img.Fingerprint)
		src.Fingerprint = fp
		return src, err
	}
	return src, nil // an alias is looked up only if the create fails: see missingAlias
}

// missingAlias says clearly that a create failed for want of its image
// alias: Incus 6.0.4 says only "Image not provided for instance creation".
// It is asked only after a failed create, so that a create that works
// costs no extra request.
func (d *Driver) missingAlias(ctx context.Context, src api.InstanceSource) error {
	if src.Type != "image" || src.Alias == "" || src.Server != "" {
		return nil
	}
	_, err := d.c.Query(ctx, http.MethodGet, "/1.0/images/aliases/"+url.PathEscape(src.Alias), nil, nil)
	if errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "image alias %q not found on %s", src.Alias, d.c.Addr())
	}
	return nil
}

// Update merges changes into a container. Config keys, devices added or
// replaced and profiles go in one PATCH, which the daemon merges into the
// container as it stands, so that concurrent updates of different keys
// all land, whoever sends them. Removing a device takes a read and a
// write (PATCH cannot remove one): with its ETag, again on a concurrent
// change (412); the CLI driver cannot send the ETag, so there the writes
// of this process are serialized per container (host.Collection).
func (d *Driver) Update(ctx context.Context, name string, opts driver.UpdateOptions) error {
	if err := driver.ValidateName(name); err != nil {
		return err
	}
	return d.named(name, d.patch(ctx, name, opts))
}

func (d *Driver) patch(ctx context.Context, name string, opts driver.UpdateOptions) error {
	instances := d.h.Instances()
	var removals []string
	body := map[string]any{}
	if len(opts.Config) > 0 {
		body["config"] = opts.Config // an empty value removes the key
	}
	added := map[string]map[string]string{}
	for dev, conf := range opts.Devices {
		if conf == nil {
			removals = append(removals, dev)
		} else {
			added[dev] = conf
		}
	}
	if len(added) > 0 {
		body["devices"] = added
	}
	if opts.Profiles != nil {
		body["profiles"] = opts.Profiles
	}
	if len(body) > 0 {
		if err := instances.Patch(ctx, name, body); err != nil {
			return err
		}
	}
	if len(body) == 0 && len(removals) == 0 {
		_, err := instances.Get(ctx, name) // nothing to change, if it exists
		return err
	}
	if len(removals) == 0 {
		return nil
	}
	return instances.Update(ctx, name, func(put *api.InstancePut) error {
		for _, dev := range removals {
			delete(put.Devices, dev)
		}
		return nil
	})
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
	return d.start(ctx, name, action)
}

// start asks for action (start or unfreeze) whatever the status now.
func (d *Driver) start(ctx context.Context, name, action string) error {
	err := d.h.SetInstanceState(ctx, name, api.InstanceStatePut{Action: action, Timeout: -1})
	// Under load the daemon can give up on a start (LXD's start hook
	// timed out calling back into it; Incus's own deadline passed).
	// Nothing was started: ask again, after 1 then 3 seconds.
	for _, wait := range startPauses {
		if err == nil || !hostapi.StartGaveUp.In(err) || ctx.Err() != nil {
			break
		}
		if pause.For(ctx, wait) != nil {
			break
		}
		err = d.h.SetInstanceState(ctx, name, api.InstanceStatePut{Action: action, Timeout: -1})
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

// setStopped sends a stop and treats "already stopped" as success: after a
// failed request, the container found stopped with its stop finished.
func (d *Driver) setStopped(ctx context.Context, name string, req api.InstanceStatePut) error {
	err := d.h.SetInstanceState(ctx, name, req)
	if err == nil {
		return nil
	}
	if d.stopFinished(context.WithoutCancel(ctx), name) {
		return nil
	}
	return fmt.Errorf("stopping %s: %w", name, err)
}

// stopFinished reports whether a container whose stop request failed is
// stopped, or gone. One found stopped before the daemon's stop hook ran
// (hostapi.StopUnfinished) is watched until the hook is done, within
// stopHookWait: a start sent meanwhile would find it "Running". So is an
// ephemeral one until its daemon has deleted it
// (hostapi.EphemeralOutlivesStop).
func (d *Driver) stopFinished(ctx context.Context, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, stopHookWait)
	defer cancel()
	pending := false
	for {
		inst, err := d.h.Instances().Get(ctx, name)
		switch {
		case errors.Is(err, errdefs.ErrNotFound):
			// Gone while it stopped: an ephemeral container, deleted by
			// its daemon once stopped (a stop sent again after the first
			// one's wait ran out finds it so).
			return true
		case err != nil:
			return pending
		case hostapi.StopUnfinished(inst.Status, inst.Config),
			hostapi.EphemeralOutlivesStop(inst.Status, inst.Ephemeral):
			pending = true
		case strings.EqualFold(inst.Status, driver.StatusStopped):
			return true
		case !pending:
			return false
		}
		if pause.For(ctx, 100*time.Millisecond) != nil {
			return pending
		}
	}
}

// stopHookWait bounds the wait for a daemon's stop hook (see stopFinished).
const stopHookWait = 30 * time.Second

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
	err = d.h.DeleteInstance(ctx, name)
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
	inst, err := d.h.Instances().Get(ctx, name)
	return inst, d.named(name, err)
}

// State returns a container's runtime state.
func (d *Driver) State(ctx context.Context, name string) (*api.InstanceState, error) {
	if err := driver.ValidateName(name); err != nil {
		return nil, err
	}
	st, err := d.h.InstanceState(ctx, name)
	return st, d.named(name, err)
}

// named turns the daemon's bare "not found" into one that names the
// container and the host.
func (d *Driver) named(name string, err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return hostapi.NoInstance(name, d.c.Addr())
	}
	return err
}

// List returns every container of the host.
func (d *Driver) List(ctx context.Context) ([]api.Instance, error) {
	all, err := d.h.Instances().List(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, i := range all {
		if i.IsContainer() {
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

// startPauses are the waits before a start the daemon gave up on is
// asked for again.
var startPauses = []time.Duration{time.Second, 3 * time.Second}
