package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/pause"
	"github.com/lxkit/lxkit/transport"
)

// pollInterval is how often the wait functions look again.
const pollInterval = 200 * time.Millisecond

// Exists reports whether a container exists.
func Exists(ctx context.Context, d Driver, name string) (bool, error) {
	_, err := d.Status(ctx, name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// FirstIPv4 returns the first global IPv4 address of a state's interfaces
// (in interface name order, loopback excluded), or "".
func FirstIPv4(st *api.InstanceState) string { return firstAddress(st, "inet") }

// FirstIPv6 returns the first global IPv6 address of a container's
// interfaces other than lo, in interface name order, or "".
func FirstIPv6(st *api.InstanceState) string { return firstAddress(st, "inet6") }

func firstAddress(st *api.InstanceState, family string) string {
	names := make([]string, 0, len(st.Network))
	for n := range st.Network {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "lo" {
			continue
		}
		for _, a := range st.Network[n].Addresses {
			if a.Family == family && a.Scope == "global" {
				return a.Address
			}
		}
	}
	return ""
}

// WaitForIP waits until a container has a global IPv4 address and returns
// it. A zero timeout waits until ctx ends.
func WaitForIP(ctx context.Context, d Driver, name string, timeout time.Duration) (string, error) {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	for {
		st, err := d.State(ctx, name)
		if err != nil {
			return "", waitErr(ctx, name, "an IPv4 address", timeout, err)
		}
		if ip := FirstIPv4(st); ip != "" {
			return ip, nil
		}
		if err := pause.For(ctx, pollInterval); err != nil {
			return "", waitErr(ctx, name, "an IPv4 address", timeout, err)
		}
	}
}

// WaitForCloudInit waits until cloud-init has finished in a container. It
// returns an error if cloud-init reported errors, or if the image has no
// cloud-init at all.
func WaitForCloudInit(ctx context.Context, d Driver, name string, timeout time.Duration) error {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	t := d.Transport(name)
	checked := false
	for {
		data, err := transport.ReadAll(ctx, t, "/run/cloud-init/result.json")
		switch {
		case err == nil:
			return cloudInitResult(name, data)
		case !errors.Is(err, errdefs.ErrNotFound):
			return waitErr(ctx, name, "cloud-init", timeout, err)
		case !checked:
			if !hasCloudInit(ctx, t) {
				return errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s: the image has no cloud-init", name)
			}
			checked = true
		}
		if err := pause.For(ctx, pollInterval); err != nil {
			return waitErr(ctx, name, "cloud-init", timeout, err)
		}
	}
}

func hasCloudInit(ctx context.Context, t transport.Transport) bool {
	for _, p := range []string{"/usr/bin/cloud-init", "/usr/local/bin/cloud-init", "/bin/cloud-init"} {
		if rc, err := t.ReadFile(ctx, p); err == nil {
			rc.Close()
			return true
		}
	}
	return false
}

func cloudInitResult(name string, data []byte) error {
	var r struct {
		V1 struct {
			Errors []string `json:"errors"`
		} `json:"v1"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("%s: reading cloud-init's result: %w", name, err)
	}
	if len(r.V1.Errors) > 0 {
		return fmt.Errorf("%s: cloud-init finished with errors: %s", name, strings.Join(r.V1.Errors, "; "))
	}
	return nil
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func waitErr(ctx context.Context, name, what string, timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && timeout > 0 {
		return fmt.Errorf("%s: no %s after %s: %w", name, what, timeout, err)
	}
	return fmt.Errorf("%s: waiting for %s: %w", name, what, err)
}
