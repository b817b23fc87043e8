package host

import (
	"errors"
	"fmt"
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

func TestRetryOnRace(t *testing.T) {
	lost := errdefs.Wrap(errdefs.ErrPreconditionFailed, nil, "412")
	tries := 0
	err := retryOnRace(func() error {
		if tries++; tries < 3 {
			return fmt.Errorf("updating: %w", lost)
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Errorf("after two lost races: %v, %d tries; want success on the third", err, tries)
	}
	tries = 0
	if err := retryOnRace(func() error { tries++; return lost }); !errors.Is(err, errdefs.ErrPreconditionFailed) || tries != 21 {
		t.Errorf("always lost: %v after %d tries, want 21", err, tries)
	}
	tries = 0
	busy := errors.New("Failed to create instance update operation: A matching non-reusable operation has now succeeded") // LXD 5.0.2
	if err := retryOnRace(func() error {
		if tries++; tries < 2 {
			return busy
		}
		return nil
	}); err != nil || tries != 2 {
		t.Errorf("after an update race: %v, %d tries; want success on the second", err, tries)
	}
	tries = 0
	if err := retryOnRace(func() error { tries++; return errors.New("refused") }); err == nil || tries != 1 {
		t.Errorf("another error: %v after %d tries, want 1", err, tries)
	}
}
