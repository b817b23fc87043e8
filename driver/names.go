package driver

import (
	"fmt"

	"github.com/lxkit/lxkit/errdefs"
)

// ValidateName checks an instance name the way both daemons do: 1 to 63
// letters, digits and hyphens, not starting with a digit or a hyphen and
// not ending with a hyphen. The error matches errdefs.ErrInvalidArgument.
func ValidateName(name string) error {
	bad := func(why string) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid instance name %q: %s", name, why)
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > 63:
		return bad("longer than 63 characters")
	case name[0] == '-' || (name[0] >= '0' && name[0] <= '9'):
		return bad("must start with a letter")
	case name[len(name)-1] == '-':
		return bad("must not end with a hyphen")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return bad(fmt.Sprintf("character %q not allowed (letters, digits and hyphens only)", r))
		}
	}
	return nil
}
