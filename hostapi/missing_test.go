package hostapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

// TestInstanceMissing: the daemons' answers for a missing instance become
// the one MissingInstance error; a missing file, or another error, stays
// as it is.
func TestInstanceMissing(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errdefs.Wrap(errdefs.ErrNotFound, nil, "Instance not found"), "instance web not found on h"},
		{errdefs.Wrap(errdefs.ErrNotFound, nil, `Failed to fetch instance "web" in project "default": Instance not found`), "instance web not found on h"},
		{fmt.Errorf("pushing: %w", NoInstance("web", "elsewhere")), "instance web not found on elsewhere"},
		{errdefs.Wrap(errdefs.ErrNotFound, nil, "open /etc/nope: no such file or directory"), "open /etc/nope: no such file or directory"},
		{errors.New("Instance not found"), "Instance not found"}, // not classed as not found: left alone
	} {
		got := InstanceMissing(tc.err, "web", "h")
		if got.Error() != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
	if err := NoInstance("web", "h"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("%v does not match ErrNotFound", err)
	}
	if err := ExecFailed(errors.New("boom"), "web", "h"); err.Error() != "exec in web: boom" {
		t.Errorf("ExecFailed: %v", err)
	}
}
