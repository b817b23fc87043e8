package host

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

func TestValidateNewName(t *testing.T) {
	for _, ok := range []string{"a", "web-1", "A1.b_2", "0day", strings.Repeat("x", MaxNameLen)} {
		if err := ValidateNewName("profile", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", ".x", "-x", "_x", "a/b", "a b", "a\x00b", "ünï", "a;rm", "$(id)", "`id`", "a'b", `a"b`,
		"a|b", "a&b", "a*", "a:b", "a%b", "a?b", "a#b", `a\b`, strings.Repeat("x", MaxNameLen+1)} {
		err := ValidateNewName("profile", bad)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "invalid profile name") {
			t.Errorf("%q: %v; want a clear ErrInvalidArgument", bad, err)
		}
	}
}

func TestValidateNameLength(t *testing.T) {
	if err := ValidateName("profile", strings.Repeat("x", 255)); err != nil {
		t.Errorf("255 bytes: %v", err)
	}
	err := ValidateName("profile", strings.Repeat("x", 256))
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "longer than 255 bytes") || len(err.Error()) > 100 {
		t.Errorf("256 bytes: %v; want a short ErrInvalidArgument", err)
	}
}

// conflictAPI refuses every POST with a conflict and has nothing: what
// the CLI driver made of LXD 5.0's and Incus 6.0's "Volume path ...
// already exists" for a volume whose name is too long for a file name.
type conflictAPI struct{ posts int }

func (*conflictAPI) Addr() string { return "fake" }

func (*conflictAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	return "", &errdefs.StatusError{Status: http.StatusNotFound, Message: "not found"}
}

func (a *conflictAPI) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	a.posts++
	return nil, errdefs.Wrap(errdefs.ErrConflict, nil, `Volume path "/var/lib/lxd/storage-pools/default/custom/default_x" already exists`)
}

func TestCreateConflictWithoutObject(t *testing.T) {
	a := &conflictAPI{}
	err := New(a).Volumes("default").Create(context.Background(), api.StorageVolumesPost{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "creating volume x") || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Create = %v; want the daemon's refusal, since the volume is not there", err)
	}
	if a.posts != 1 {
		t.Errorf("%d POSTs; want 1", a.posts)
	}
	err = New(a).Profiles().Create(context.Background(), api.ProfilesPost{Name: "a;b"})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || a.posts != 1 {
		t.Errorf("Create of a;b = %v after %d POSTs; want ErrInvalidArgument before any", err, a.posts)
	}
}

// halfMadeAPI has an object's record from the first POST on, and fails
// that POST: as the wait of a snapshot create that Incus 6.0.4 answered
// with "context deadline exceeded" after 30 s, its record written and its
// data not yet copied (a restore then failed with "Snapshot not found").
type halfMadeAPI struct{ posted bool }

func (*halfMadeAPI) Addr() string { return "fake" }

func (a *halfMadeAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	if !a.posted || strings.HasPrefix(path, "/1.0/operations") {
		return "", &errdefs.StatusError{Status: http.StatusNotFound, Message: "not found"}
	}
	return "", nil
}

func (a *halfMadeAPI) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	a.posted = true
	return nil, &errdefs.StatusError{Status: http.StatusInternalServerError, Message: "context deadline exceeded"}
}

// TestCreateFailureIsNotSuccess: a create that failed is an error even
// though the daemon shows the object's record afterwards.
func TestCreateFailureIsNotSuccess(t *testing.T) {
	made, err := New(&halfMadeAPI{}).Snapshots("c").Make(context.Background(), api.InstanceSnapshotsPost{Name: "s0"})
	if err == nil || made || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("Make = %v, %v; want the failure", made, err)
	}
}
