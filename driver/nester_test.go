package driver_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
)

func TestHostAt(t *testing.T) {
	ctx := context.Background()
	top := rest.New(nil)
	if d, err := driver.HostAt(ctx, top, ""); err != nil || d != driver.Driver(top) {
		t.Errorf(`HostAt(top, "") = %v, %v; want top`, d, err)
	}
	if _, err := driver.HostAt(ctx, top, "outer"); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("HostAt(not a Nester, outer) = %v; want ErrNotImplemented", err)
	}
	n := nested.New(top)
	d, err := driver.HostAt(ctx, n, "outer")
	if err != nil || d == nil || d == driver.Driver(n) {
		t.Fatalf("HostAt(nested, outer) = %v, %v; want outer's driver", d, err)
	}
	if again, _ := driver.HostAt(ctx, n, "outer"); again != d {
		t.Error("a nested host's driver is not kept")
	}
	if _, err := driver.HostAt(ctx, n, "outer/-bad"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("HostAt(nested, outer/-bad) = %v; want ErrInvalidArgument", err)
	}
}
