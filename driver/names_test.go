package driver

import (
	"errors"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "web-1", "A1b2", strings.Repeat("x", 63)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1a", "-a", "a-", "a_b", "a.b", "a/b", "a b", "ü", strings.Repeat("x", 64), "a\x00"} {
		err := ValidateName(bad)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "invalid instance name") {
			t.Errorf("%q: %v; want a clear ErrInvalidArgument", bad, err)
		}
	}
}
