package hostapi

import (
	"errors"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

func TestNameMember(t *testing.T) {
	down := errors.New("Missing event connection with target cluster member")
	other := errors.New("Instance is busy running a state operation")
	list := []byte(`[{"name":"web","location":"m4"},{"name":"alone","location":"none"},{"name":"db","location":"m2"}]`)
	for _, tc := range []struct {
		err       error
		name      string
		instances []byte
		want      string // "" means err comes back as it was
	}{
		{down, "web", list, "instance web is on cluster member m4, which does not answer: Missing event connection with target cluster member"},
		{errors.New("Server isn't ready yet"), "db", list, "instance db is on cluster member m2, which does not answer: Server isn't ready yet"},
		{other, "web", list, ""},       // not a member down
		{down, "alone", list, ""},      // on no cluster
		{down, "nosuch", list, ""},     // not listed
		{down, "web", []byte("{"), ""}, // not JSON
		{down, "web", nil, ""},
	} {
		got := NameMember(tc.err, tc.name, tc.instances)
		if tc.want == "" {
			if got != tc.err {
				t.Errorf("NameMember(%q, %s): %v, want the error as it was", tc.err, tc.name, got)
			}
			continue
		}
		if got.Error() != tc.want || !errors.Is(got, errdefs.ErrUnavailable) {
			t.Errorf("NameMember(%q, %s) = %q, want %q (ErrUnavailable)", tc.err, tc.name, got, tc.want)
		}
	}
}
