package host

import (
	"errors"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

func TestWildcard(t *testing.T) {
	for addr, want := range map[string]bool{
		"": true, ":8443": true, "0.0.0.0:8443": true, "[::]:8443": true, "::": true, "[::]": true,
		"10.0.0.1:8443": false, "10.0.0.1": false, "[fd00::1]:8443": false, "host.example:8443": false,
	} {
		if got := wildcard(addr); got != want {
			t.Errorf("wildcard(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", `a\\b`, "a b", "a\tb", "a\x00b", "a\u00a0b", "a\u2028b", "a\x7fb"} {
		if err := ValidateName("profile", bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ValidateName(%q) = %v, want invalid argument", bad, err)
		}
	}
	for _, good := range []string{"default", "web-1", "a.b", "über", "x_y"} {
		if err := ValidateName("profile", good); err != nil {
			t.Errorf("ValidateName(%q) = %v", good, err)
		}
	}
}
