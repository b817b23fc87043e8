package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// TransferOptions says where CopyInstanceTo and MoveInstanceTo put an
// instance and how.
type TransferOptions struct {
	CopyInstanceOptions
	// Project is the destination's project; empty is the one dst works
	// in.
	Project string
	// Stateless lets a running instance be copied as its disk is, without
	// its memory (a live copy needs CRIU, which lxkit does not ask for).
	Stateless bool
	// SourceAddr is this host's HTTPS address as dst reaches it; empty
	// means the first address it announces (see CopyOptions.SourceAddr).
	SourceAddr string
}

// CopyInstanceTo copies an instance (or, with opts.Snapshot, one of its
// snapshots) to a new, stopped instance named name on dst, another host
// or this one in another project. Another host pulls it straight from
// this one over HTTPS (the daemons' migration, pull mode), so this host
// must listen on HTTPS where dst can reach it. A destination that exists
// already is left as it is.
func (h *Host) CopyInstanceTo(ctx context.Context, dst *Host, source, name string, opts TransferOptions) error {
	for _, n := range []string{source, name} {
		if err := ValidateName("instance", n); err != nil {
			return err
		}
	}
	if opts.Project != "" {
		if err := ValidateName("project", opts.Project); err != nil {
			return err
		}
	}
	if ok, err := dst.hasInstance(ctx, name, opts.Project); err != nil || ok {
		return err
	}
	var src api.Instance
	if _, err := h.c.Query(ctx, http.MethodGet, hostapi.InstancePath(source), nil, &src); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return hostapi.NoInstance(source, h.c.Addr())
		}
		return err
	}
	put := src.InstancePut
	if opts.Snapshot != "" {
		snap, err := h.Snapshots(source).Get(ctx, opts.Snapshot)
		if err != nil {
			return err
		}
		put = api.InstancePut{Config: snap.Config, Devices: snap.Devices, Profiles: snap.Profiles}
	}
	config := map[string]string{}
	for k, v := range put.Config {
		if !strings.HasPrefix(k, "volatile.") { // the daemon's, per instance
			config[k] = v
		}
	}
	MergeConfig(&config, opts.Config)
	devices := put.Devices
	MergeDevices(&devices, opts.Devices)
	profiles := put.Profiles
	if opts.Profiles != nil {
		profiles = opts.Profiles
	}
	body := map[string]any{
		"name": name, "type": src.Type, "architecture": src.Architecture,
		"config": config, "devices": devices, "profiles": profiles, "ephemeral": put.Ephemeral,
	}
	path := hostapi.WithTarget(hostapi.WithProject("/1.0/instances", opts.Project), opts.Target)
	label := fmt.Sprintf("copying %s to %s on %s", source, name, dst.c.Addr())
	if dst == h {
		from := source
		if opts.Snapshot != "" {
			from += "/" + opts.Snapshot
		}
		copied := map[string]any{"type": "copy", "source": from, "instance_only": opts.InstanceOnly}
		if opts.Project != "" { // the source stays in the host's
			server, err := h.Server(ctx)
			if err != nil {
				return err
			}
			copied["project"] = server.Environment.Project
		}
		body["source"] = copied
		post := func() error {
			_, err := h.c.Do(ctx, http.MethodPost, path, body, "")
			return err
		}
		var err error
		if opts.Target != "" && !strings.HasPrefix(opts.Target, "@") {
			// A member the daemons count offline, or have no event
			// connection to, for moments (hostapi.HeartbeatsLate), as
			// for a move: LXD 5.0.2 refused a copy to m2 with "Missing
			// event connection with target cluster member" (ci85).
			err = h.whenOnline(ctx, opts.Target, post)
		} else {
			err = post()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		return nil
	}
	running := opts.Snapshot == "" && !strings.EqualFold(src.Status, "Stopped")
	if running && !opts.Stateless {
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
			"%s: %s is %s: stop it, or copy its disk as it is with --stateless (a live copy would need CRIU)", label, source, strings.ToLower(src.Status))
	}
	if err := h.snapshotsTravel(ctx, dst, source, opts); err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	op, cancel, err := h.migrationSource(ctx, source, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	defer cancel()
	addr, cert, err := h.httpsSource(ctx, opts.SourceAddr)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	// No query: the destination appends "/websocket?secret=..." to it.
	opURL := addr + "/1.0/operations/" + url.PathEscape(op.ID)
	body["source"] = map[string]any{
		"type": "migration", "mode": "pull", "operation": opURL, "certificate": cert,
		"secrets": op.Metadata, "base-image": put.Config["volatile.base_image"],
		"instance_only": opts.InstanceOnly, "live": false,
	}
	if _, err := dst.c.Do(ctx, http.MethodPost, path, body, ""); err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	return nil
}

// MoveInstanceTo moves an instance to dst, another host or this one in
// another project, as name there: a copy (see CopyInstanceTo), then the
// source deleted. A running instance is refused unless opts.Stateless;
// then it is stopped first, and started again if the copy fails.
// A move done already (the source gone, name on dst) is success; a
// destination that exists beside its source is refused, as the move may
// have stopped half-way: compare them and delete one.
func (h *Host) MoveInstanceTo(ctx context.Context, dst *Host, source, name string, opts TransferOptions) error {
	there, err := dst.hasInstance(ctx, name, opts.Project)
	if err != nil {
		return err
	}
	inst, err := h.Instances().Get(ctx, source)
	switch {
	case errors.Is(err, errdefs.ErrNotFound) && there:
		return nil
	case err != nil:
		return err
	case there:
		return errdefs.Wrap(errdefs.ErrConflict, nil,
			"moving %s to %s on %s: both exist (a move that stopped half-way?): compare them and delete one", source, name, dst.c.Addr())
	}
	running := !strings.EqualFold(inst.Status, "Stopped")
	if running && !opts.Stateless {
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
			"moving %s: it is %s: stop it first, or move its disk as it is with --stateless", source, strings.ToLower(inst.Status))
	}
	if running {
		// A stateless move ends with the source stopped and gone and
		// the copy stopped: stop it first, so that the daemon sends a
		// stopped container instead of freezing a running one for its
		// last pass (hostapi.FreezeHangs). So the source is stopped
		// whenever it is copied, and deleted as it is: one started
		// meanwhile is left, and its deletion refused.
		if err := h.SetInstanceState(ctx, source, api.InstanceStatePut{Action: "stop", Force: true, Timeout: -1}); err != nil {
			return fmt.Errorf("moving %s: stopping it: %w", source, err)
		}
	}
	if err := h.CopyInstanceTo(ctx, dst, source, name, opts); err != nil {
		if running { // as it was
			_ = h.SetInstanceState(context.WithoutCancel(ctx), source, api.InstanceStatePut{Action: "start", Timeout: -1})
		}
		return err
	}
	if err := h.DeleteInstance(ctx, source); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("moving %s: copied to %s, but deleting the source: %w", source, dst.c.Addr(), err)
	}
	return nil
}

// hasInstance reports whether the host has an instance of that name, in
// project (empty: the one the host works in).
func (h *Host) hasInstance(ctx context.Context, name, project string) (bool, error) {
	var cur api.Instance
	_, err := h.c.Query(ctx, http.MethodGet, hostapi.WithProject(hostapi.InstancePath(name), project), nil, &cur)
	if errors.Is(err, errdefs.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// snapshotsTravel refuses, before anything moves, a copy whose snapshots
// dst would refuse at the end of the transfer (hostapi.SnapshotsRefused).
func (h *Host) snapshotsTravel(ctx context.Context, dst *Host, source string, opts TransferOptions) error {
	if opts.InstanceOnly || opts.Snapshot != "" {
		return nil
	}
	from, err := h.Server(ctx)
	if err != nil {
		return err
	}
	to, err := dst.Server(ctx)
	if err != nil {
		return err
	}
	if !hostapi.SnapshotsRefused(from.Environment.Server, to.Environment.Server) {
		return nil
	}
	snaps, err := h.Snapshots(source).List(ctx)
	if err != nil || len(snaps) == 0 {
		return err
	}
	return errdefs.Wrap(errdefs.ErrNotImplemented, nil,
		"%s %s cannot take the snapshots of %s (%s keeps config keys in them that %[1]s does not know): copy it with --instance-only",
		to.Environment.Server, to.Environment.ServerVersion, source, from.Environment.Server)
}

// migrationSource starts the migration operation that sends an instance
// (or its snapshot) to whoever has its secrets, the operation's metadata;
// cancel drops it unless it has ended.
func (h *Host) migrationSource(ctx context.Context, source string, opts TransferOptions) (*api.Operation, func(), error) {
	st, ok := h.c.(hostapi.Starter)
	if !ok {
		return nil, nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s cannot start operations without waiting", h.c.Addr())
	}
	path := hostapi.InstancePath(source)
	body := map[string]any{"migration": true, "live": false, "instance_only": opts.InstanceOnly, "container_only": opts.InstanceOnly}
	if opts.Snapshot != "" {
		path += "/snapshots/" + url.PathEscape(opts.Snapshot)
		body = map[string]any{"migration": true, "live": false}
	}
	op, err := st.Start(ctx, http.MethodPost, path, body, "")
	if err != nil {
		return nil, nil, fmt.Errorf("starting the migration on %s: %w", h.c.Addr(), err)
	}
	if op == nil || len(op.Metadata) == 0 {
		return nil, nil, errdefs.Wrap(errdefs.ErrInternal, nil, "starting the migration on %s: no secrets in its answer", h.c.Addr())
	}
	cancel := func() {
		cctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		var cur api.Operation
		if _, err := h.c.Query(cctx, http.MethodGet, "/1.0/operations/"+url.PathEscape(op.ID), nil, &cur); err == nil && !cur.Done() {
			_ = h.CancelOperation(cctx, op.ID)
		}
	}
	return op, cancel, nil
}

// httpsSource returns the HTTPS address another daemon reaches this one
// at (addr, or the first it announces) and its certificate.
func (h *Host) httpsSource(ctx context.Context, addr string) (string, string, error) {
	server, err := h.Server(ctx)
	if err != nil {
		return "", "", err
	}
	if addr == "" {
		if len(server.Environment.Addresses) == 0 {
			return "", "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
				"%s does not listen on HTTPS, so no other host can pull from it (turn it on with `lxkit listen ADDRESS`)", h.c.Addr())
		}
		addr = server.Environment.Addresses[0]
	}
	if !strings.HasPrefix(addr, "https://") {
		addr = "https://" + addr
	}
	return addr, server.Environment.Certificate, nil
}
