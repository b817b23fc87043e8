package host

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/pause"
)

// Instances are the host's instances, as objects: read, update (with the
// ETag, again on a concurrent change), patch, rename, delete. Making one
// (an image to unpack or pull) and its convergent lifecycle are the
// drivers' (package driver).
func (h *Host) Instances() *Collection[api.Instance, api.InstancePut, api.InstancesPost] {
	return &Collection[api.Instance, api.InstancePut, api.InstancesPost]{
		h: h, kind: "instance", path: "/1.0/instances",
		name: func(p *api.InstancesPost) string { return p.Name },
		put:  func(i *api.Instance) *api.InstancePut { return &i.InstancePut },
	}
}

// InstancesWithState lists every instance with its runtime state in one
// request (recursion=2), as `lxc list` does, instead of one request for
// each instance's state.
func (h *Host) InstancesWithState(ctx context.Context) ([]api.InstanceFull, error) {
	var out []api.InstanceFull
	if _, err := h.c.Query(ctx, http.MethodGet, "/1.0/instances?recursion=2", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// InstanceState returns an instance's runtime state. A read that failed
// because the instance stopped while the daemon rendered its state
// (hostapi.StateRace) is made again after each of statePauses: the daemon
// keeps failing so until the stop has finished, which took longer than
// three reads in a row under load (ci27: two `lxkit list` at once).
func (h *Host) InstanceState(ctx context.Context, name string) (*api.InstanceState, error) {
	if err := ValidateName("instance", name); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		var out api.InstanceState
		_, err := h.c.Query(ctx, http.MethodGet, hostapi.InstancePath(name, "state"), nil, &out)
		if err == nil {
			return &out, nil
		}
		if attempt == len(statePauses) || !hostapi.StateRace.In(err) {
			return nil, err
		}
		if perr := pause.For(ctx, statePauses[attempt]); perr != nil {
			return nil, err
		}
	}
}

// statePauses are the waits before a state read is made again after a
// StateRace: 6.3 s in all, longer than a stop takes on a loaded machine.
var statePauses = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond}

// SetInstanceState asks for a change of an instance's state (start, stop,
// freeze, unfreeze, restart) and waits for it. A change the daemon
// refuses because another operation holds the instance (hostapi.Busy) is
// asked for again, for busyPatience at most: a stop's clean-up holds the
// instance for a moment after its status already reads Stopped, so a
// start right after a stop can meet it (seen on Incus 6.0.4).
func (h *Host) SetInstanceState(ctx context.Context, name string, req api.InstanceStatePut) error {
	if err := ValidateName("instance", name); err != nil {
		return err
	}
	return whenFree(ctx, func() error {
		_, err := h.c.Do(ctx, http.MethodPut, hostapi.InstancePath(name, "state"), req, "")
		return err
	})
}

// DeleteInstance deletes a stopped instance, again while another
// operation holds it (see SetInstanceState). The daemon's error is
// returned as it is: a missing instance matches errdefs.ErrNotFound.
func (h *Host) DeleteInstance(ctx context.Context, name string) error {
	if err := ValidateName("instance", name); err != nil {
		return err
	}
	return whenFree(ctx, func() error {
		_, err := h.c.Do(ctx, http.MethodDelete, hostapi.InstancePath(name), nil, "")
		return err
	})
}

// busyPatience bounds how long SetInstanceState and DeleteInstance wait
// for another operation on the same instance to let go of it.
var busyPatience = 30 * time.Second

// whenFree runs change, again while the daemon answers that the instance
// is busy with another operation, with pauses growing from 50 ms to 1 s.
func whenFree(ctx context.Context, change func() error) error {
	deadline := time.Now().Add(busyPatience)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := change()
		if !hostapi.Busy.In(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		if pause.For(ctx, wait) != nil {
			return err
		}
	}
}

// MoveOptions say where and how to move an instance within a cluster.
type MoveOptions struct {
	// Target is the member to move it to.
	Target string
	// Stop lets a running instance be stopped, moved and started again;
	// without it a running instance is refused.
	Stop bool
}

// sharedPoolDrivers are the storage drivers whose volumes every member
// of a cluster reaches; the others' (dir, btrfs, lvm, zfs) live on one
// member.
var sharedPoolDrivers = []string{"ceph", "cephfs", "cephobject", "lvmcluster"}

// localVolumesStay refuses a move of inst that would leave a custom
// volume behind: one attached to it from a pool local to its member,
// which the daemons do not move with the instance. Incus 6.0.4 moves
// such an instance and leaves the volume on the old member, silently;
// LXD 5.0.2 refuses, saying "Storage volume not found" of the device.
func (h *Host) localVolumesStay(ctx context.Context, inst *api.Instance) error {
	devices := inst.ExpandedDevices
	if devices == nil {
		devices = inst.Devices
	}
	for _, dev := range slices.Sorted(maps.Keys(devices)) {
		d := devices[dev]
		if d["type"] != "disk" || d["pool"] == "" || d["source"] == "" || d["path"] == "/" {
			continue
		}
		pool, err := h.StoragePools().Get(ctx, d["pool"])
		if err != nil {
			return fmt.Errorf("moving %s: its device %s: %w", inst.Name, dev, err)
		}
		if slices.Contains(sharedPoolDrivers, pool.Driver) {
			continue
		}
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
			"instance %s has volume %s of pool %s attached (device %s), and a %s pool's volumes live on one member: "+
				"it would stay on %s; detach it first (or copy it to the other member), then move",
			inst.Name, d["source"], d["pool"], dev, pool.Driver, inst.Location)
	}
	return nil
}

// MoveInstance moves an instance to another member of its cluster, with
// its root volume and snapshots. An instance on that member already is
// success. A running instance is refused (errdefs.ErrPreconditionFailed)
// unless opts.Stop, as the daemons move only stopped containers. An
// instance with a custom volume of a member's local pool attached is
// refused too: the volume would stay behind.
func (h *Host) MoveInstance(ctx context.Context, name string, opts MoveOptions) error {
	if err := ValidateName("cluster member", opts.Target); err != nil {
		return err
	}
	inst, err := h.Instances().Get(ctx, name)
	if err != nil {
		return err
	}
	if inst.Location == opts.Target {
		return nil
	}
	if err := h.localVolumesStay(ctx, inst); err != nil {
		return err
	}
	running := !strings.EqualFold(inst.Status, "Stopped")
	if running {
		if !opts.Stop {
			return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
				"instance %s is %s on %s: only a stopped instance can move (stop it, or move with --stop)", name, strings.ToLower(inst.Status), inst.Location)
		}
		if err := h.SetInstanceState(ctx, name, api.InstanceStatePut{Action: "stop", Timeout: -1}); err != nil {
			return fmt.Errorf("stopping %s to move it: %w", name, err)
		}
	}
	body := map[string]any{"name": name, "migration": true}
	err = h.whenOnline(ctx, opts.Target, func() error {
		return whenFree(ctx, func() error {
			_, err := h.c.Do(ctx, http.MethodPost, hostapi.WithTarget(hostapi.InstancePath(name), opts.Target), body, "")
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("moving %s from %s to %s: %w", name, inst.Location, opts.Target, err)
	}
	if running {
		if err := h.SetInstanceState(ctx, name, api.InstanceStatePut{Action: "start", Timeout: -1}); err != nil {
			return fmt.Errorf("starting %s again on %s after the move: %w", name, opts.Target, err)
		}
	}
	return nil
}

// RenameInstance renames a stopped instance, with its snapshots. One
// renamed already (old gone, new there) is success; a new name that is
// taken while old is there is refused (errdefs.ErrConflict), and a
// running instance by the daemon ("Renaming of running instance not
// allowed").
func (h *Host) RenameInstance(ctx context.Context, old, new string) error {
	for _, n := range []string{old, new} {
		if err := ValidateName("instance", n); err != nil {
			return err
		}
	}
	oldThere, err := h.Instances().Exists(ctx, old)
	if err != nil {
		return err
	}
	newThere, err := h.Instances().Exists(ctx, new)
	switch {
	case err != nil:
		return err
	case !oldThere && newThere:
		return nil
	case !oldThere:
		return hostapi.NoInstance(old, h.c.Addr())
	case newThere:
		return errdefs.Wrap(errdefs.ErrConflict, nil, "renaming %s: instance %s exists already on %s", old, new, h.c.Addr())
	}
	_, err = h.c.Do(ctx, http.MethodPost, hostapi.InstancePath(old), map[string]string{"name": new}, "")
	if err != nil {
		return fmt.Errorf("renaming %s to %s: %w", old, new, err)
	}
	return nil
}
