package hostapi

import (
	"errors"
	"fmt"

	"github.com/lxkit/lxkit/errdefs"
)

// InstanceGone is the daemons' answer for an instance that is not there:
// "Instance not found" (LXD 5.0.2), `Failed to fetch instance "x" in
// project "default": Instance not found` (Incus 6.0.4).
var InstanceGone = Quirk{Seen: "LXD 5.0.2, Incus 6.0.4", words: []string{"instance not found"}}

// MissingInstance is lxkit's one error for an instance that is not
// there, whichever command, driver or transport found it missing:
// `instance web not found on /var/lib/lxd/unix.socket`, worded as a
// missing profile or pool is. It matches errdefs.ErrNotFound.
type MissingInstance struct {
	Name string // as the caller named it
	Addr string // the host that has no such instance
}

func (e *MissingInstance) Error() string {
	return fmt.Sprintf("instance %s not found on %s", e.Name, e.Addr)
}

// Is makes a MissingInstance match errdefs.ErrNotFound.
func (e *MissingInstance) Is(target error) bool { return target == errdefs.ErrNotFound }

// NoInstance returns the MissingInstance error of name on addr.
func NoInstance(name, addr string) error { return &MissingInstance{Name: name, Addr: addr} }

// InstanceMissing returns err as the MissingInstance error of name on
// addr when it is the daemon saying that the instance is not there (a
// not-found error with InstanceGone's words), and err otherwise: a
// missing file is not a missing instance.
func InstanceMissing(err error, name, addr string) error {
	var m *MissingInstance
	if errors.As(err, &m) {
		return m
	}
	if errors.Is(err, errdefs.ErrNotFound) && InstanceGone.In(err) {
		return NoInstance(name, addr)
	}
	return err
}

// ExecFailed says which instance a command failed to run in, or that
// there is no such instance (MissingInstance).
func ExecFailed(err error, name, addr string) error {
	if missing := InstanceMissing(err, name, addr); missing != err {
		return missing
	}
	return fmt.Errorf("exec in %s: %w", name, err)
}
