package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Collection is a kind of named object under one API path, such as
// /1.0/profiles: T is the object as GET answers it, Put what PUT
// replaces and Post what POST creates.
type Collection[T, Put, Post any] struct {
	h    *Host
	kind string // "profile", in messages
	path string // "/1.0/profiles"
	// name gives a Post's name; put the part of a T that PUT replaces.
	name func(*Post) string
	put  func(*T) *Put
	// usedBy gives what uses a T (instances, profiles), if it says.
	usedBy func(*T) []string
	// ok checks a name beyond ValidateName (a network's length, say).
	ok func(name string) error
	// target, set by On, places what the collection makes and reads on
	// one cluster member.
	target string
	// onCluster, for storage pools and networks, is what Make does on a
	// cluster instead of one POST (see makeOnCluster).
	onCluster *clusterCreate[T, Post]
}

// On returns the collection as it is on one cluster member: creates
// place the object there (a custom volume on a local pool; a storage
// pool's or network's pending definition, with that member's own
// configuration), and reads ask that member.
func (c *Collection[T, Put, Post]) On(member string) *Collection[T, Put, Post] {
	cp := *c
	cp.target = member
	return &cp
}

// ValidateName refuses names that cannot be an object's: empty, longer
// than a file name (255 bytes), with a slash, a control character or
// white space, or "." and "..".
func ValidateName(kind, name string) error {
	bad := func(why string) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid %s name %q: %s", kind, name, why)
	}
	switch {
	case name == "":
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid %s name: empty", kind)
	case len(name) > 255:
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid %s name %.40q...: longer than 255 bytes", kind, name)
	case name == "." || name == "..":
		return bad("not a name")
	case strings.ContainsAny(name, "/\\"):
		return bad("it has a slash")
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == '\u00a0' || r == '\u2028' || r == '\u2029' {
			return bad("it has white space or a control character")
		}
	}
	return nil
}

// MaxNameLen bounds the names ValidateNewName accepts: a project's name
// and a volume's, joined by "_", still make one file name (255 bytes),
// as the dir driver stores custom volumes.
const MaxNameLen = 127

// ValidateNewName checks the name of an object lxkit is to make (create,
// rename, copy): besides ValidateName's rules, 1 to MaxNameLen ASCII
// letters, digits, '-', '_' and '.', starting with a letter or a digit,
// so that no shell, URL, file system or lxc command line reads it
// otherwise. LXD 5.0 and Incus 6.0 accept more for profiles, projects
// and volumes (any Unicode, shell metacharacters, thousands of bytes;
// a volume name too long for a file name fails as "Volume path ...
// already exists"); objects so named by other tools can still be
// shown, renamed and deleted. The error matches ErrInvalidArgument.
func ValidateNewName(kind, name string) error {
	if err := ValidateName(kind, name); err != nil {
		return err
	}
	bad := func(why string) error {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid %s name %q: %s", kind, name, why)
	}
	if len(name) > MaxNameLen {
		return bad(fmt.Sprintf("longer than %d bytes", MaxNameLen))
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.':
			if i == 0 {
				return bad("must start with a letter or digit")
			}
		default:
			return bad("only ASCII letters, digits, '-', '_' and '.' are allowed")
		}
	}
	return nil
}

// Validate checks a name as every method does before it asks the host.
func (c *Collection[T, Put, Post]) Validate(name string) error { return c.check(name) }

func (c *Collection[T, Put, Post]) check(name string) error {
	if err := ValidateName(c.kind, name); err != nil {
		return err
	}
	if c.ok != nil {
		return c.ok(name)
	}
	return nil
}

func (c *Collection[T, Put, Post]) item(name string) string {
	return hostapi.WithTarget(c.path+"/"+url.PathEscape(name), c.target)
}

// notFound names what is missing where.
func (c *Collection[T, Put, Post]) notFound(name string, err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "%s %s not found on %s", c.kind, name, c.h.c.Addr())
	}
	return err
}

// changeFailed keeps the daemon's words for a change it refused with a
// 404 after the object was read: the object was there, so "not found"
// alone would mislead (Incus 6.0 says so of a bridge it failed to
// change).
func (c *Collection[T, Put, Post]) changeFailed(name string, err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.Wrap(errdefs.ErrNotFound, err, "%s %s", c.kind, name)
	}
	return err
}

// List returns every object of the collection.
func (c *Collection[T, Put, Post]) List(ctx context.Context) ([]T, error) {
	var out []T
	if _, err := c.h.c.Query(ctx, http.MethodGet, c.path+"?recursion=1", nil, &out); err != nil {
		return nil, fmt.Errorf("listing %ss: %w", c.kind, err)
	}
	return out, nil
}

// Get returns one object; a missing one is an error matching
// errdefs.ErrNotFound.
func (c *Collection[T, Put, Post]) Get(ctx context.Context, name string) (*T, error) {
	t, _, err := c.get(ctx, name)
	return t, err
}

func (c *Collection[T, Put, Post]) get(ctx context.Context, name string) (*T, string, error) {
	if err := c.check(name); err != nil {
		return nil, "", err
	}
	var t T
	etag, err := c.h.c.Query(ctx, http.MethodGet, c.item(name), nil, &t)
	if err != nil {
		return nil, "", c.notFound(name, err)
	}
	return &t, etag, nil
}

// Exists reports whether the object is there.
func (c *Collection[T, Put, Post]) Exists(ctx context.Context, name string) (bool, error) {
	_, _, err := c.get(ctx, name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Create creates an object. One of that name that exists already is left
// as it is: Create converges, it does not compare.
func (c *Collection[T, Put, Post]) Create(ctx context.Context, post Post) error {
	_, err := c.Make(ctx, post)
	return err
}

// Make is Create, and says whether it made the object (false: one of that
// name was there).
func (c *Collection[T, Put, Post]) Make(ctx context.Context, post Post) (made bool, err error) {
	name := c.name(&post)
	if err := c.checkNew(name); err != nil {
		return false, err
	}
	if c.onCluster != nil && c.target == "" {
		if clustered, err := c.h.clustered(ctx); err != nil {
			return false, err
		} else if clustered {
			return c.makeOnCluster(ctx, name, post)
		}
	}
	if ok, err := c.Exists(ctx, name); err != nil {
		return false, err
	} else if ok { // perhaps still being made by another caller
		return false, c.awaitMaking(ctx, name)
	}
	if _, err := c.h.c.Do(ctx, http.MethodPost, hostapi.WithTarget(c.path, c.target), post, ""); err != nil {
		// Made meanwhile by another caller? Only the daemon's words for
		// that say so, and only if the object is there once its maker's
		// operation has ended (LXD 5.0 and Incus 6.0 also say "already
		// exists" of a volume path they failed to make). Any other failure
		// is this create's, even when the daemon left the object's record
		// behind: it may be half made.
		// Its maker may be at work still: Incus 6.0.4 refuses a snapshot
		// while another's snapshot operation holds the instance, before
		// that one's record shows; or its maker may fail yet, and remove
		// it.
		if errors.Is(err, errdefs.ErrConflict) || hostapi.MadeMeanwhile.In(err) {
			werr := c.awaitMaking(ctx, name)
			if ok, _ := c.Exists(ctx, name); ok {
				return false, werr
			}
		}
		return false, fmt.Errorf("creating %s %s: %w", c.kind, name, err)
	}
	return true, nil
}

// awaitMaking waits while a running operation of the daemon makes the
// object: another caller's snapshot shows as soon as its record is
// written, before its data is copied. LXD 5.0.2 names the owner of the
// object in the operation's resources (the instance, or
// /1.0/storage_volumes/NAME for a volume), Incus 6.0.4 the object too.
func (c *Collection[T, Put, Post]) awaitMaking(ctx context.Context, name string) error {
	object := c.path + "/" + url.PathEscape(name)
	owner, _ := strings.CutSuffix(c.path, "/snapshots")
	ops, err := c.h.Operations(ctx)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.Done() || !makes(op, object, owner) {
			continue
		}
		if err := c.h.AwaitOperation(ctx, op.ID); err != nil {
			return err
		}
	}
	return nil
}

// makes reports whether op is one that makes the object at path (or a
// snapshot of owner): a create or a snapshot, not an exec on the owner.
func makes(op api.Operation, object, owner string) bool {
	if !hostapi.MakesObject(op.Description) {
		return false
	}
	lxdVolume := "/1.0/storage_volumes/" + path.Base(owner)
	for _, rs := range op.Resources {
		for _, r := range rs {
			r, _, _ = strings.Cut(r, "?")
			if r == object || r == owner || (strings.Contains(owner, "/volumes/") && r == lxdVolume) {
				return true
			}
		}
	}
	return false
}

// checkNew checks the name of an object to make.
func (c *Collection[T, Put, Post]) checkNew(name string) error {
	if err := ValidateNewName(c.kind, name); err != nil {
		return err
	}
	return c.check(name)
}

// Update reads an object, lets change edit what PUT replaces and writes
// it back, with the ETag where the driver sends one; a concurrent change
// makes it read and edit again (see retryOnRace). The writes of one Host
// to one object are serialized: the CLI driver cannot send the ETag.
func (c *Collection[T, Put, Post]) Update(ctx context.Context, name string, change func(*Put) error) error {
	defer c.h.updates.Lock(c.path + "/" + name)()
	return retryOnRace(func() error {
		t, etag, err := c.get(ctx, name)
		if err != nil {
			return err
		}
		put := c.put(t)
		if err := change(put); err != nil {
			return err
		}
		if _, err = c.h.c.Do(ctx, http.MethodPut, c.item(name), put, etag); err != nil {
			return fmt.Errorf("updating %s %s: %w", c.kind, name, c.changeFailed(name, err))
		}
		return nil
	})
}

// Writable returns what PUT replaces of an object, and the ETag it was
// read with: "" where the driver reports none (the CLI driver, which runs
// `lxc query` or `incus query`). Give both to Replace to write it back.
func (c *Collection[T, Put, Post]) Writable(ctx context.Context, name string) (*Put, string, error) {
	t, etag, err := c.get(ctx, name)
	if err != nil {
		return nil, "", err
	}
	return c.put(t), etag, nil
}

// Replace writes put over an object whose writable part Writable read as
// was, with etag, on the condition that nobody changed it since; unlike
// Update, it does not read and edit again on a concurrent change: put is
// someone's edit of was, to be redone by them. A changed object is an
// error matching errdefs.ErrPreconditionFailed that says so.
//
// With an ETag the daemon checks the condition (If-Match, answered 412).
// Without one (the CLI driver cannot send If-Match: `lxc query` takes no
// header), Replace reads the object again just before the PUT and
// refuses when its writable part is no longer was: a change that lands
// between that read and the PUT is not seen. Writes of one Host to one
// object are serialized, as Update's are.
func (c *Collection[T, Put, Post]) Replace(ctx context.Context, name string, was *Put, etag string, put *Put) error {
	if err := c.check(name); err != nil {
		return err
	}
	defer c.h.updates.Lock(c.path + "/" + name)()
	changed := func(cause error) error {
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, cause, "%s %s changed on %s since it was read", c.kind, name, c.h.c.Addr())
	}
	if etag == "" {
		now, _, err := c.get(ctx, name)
		if err != nil {
			return err
		}
		same, err := sameJSON(c.put(now), was)
		if err != nil {
			return err
		}
		if !same {
			return changed(nil)
		}
	}
	if _, err := c.h.c.Do(ctx, http.MethodPut, c.item(name), put, etag); err != nil {
		if errors.Is(err, errdefs.ErrPreconditionFailed) {
			return changed(err)
		}
		return fmt.Errorf("updating %s %s: %w", c.kind, name, c.changeFailed(name, err))
	}
	return nil
}

// sameJSON reports whether a and b encode to the same JSON (maps encode
// with sorted keys).
func sameJSON(a, b any) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}

// Patch merges fields into an object (PATCH: the daemon merges them into
// the object as it stands, so that concurrent patches of different keys
// all land, whoever sends them).
func (c *Collection[T, Put, Post]) Patch(ctx context.Context, name string, fields map[string]any) error {
	if err := c.check(name); err != nil {
		return err
	}
	defer c.h.updates.Lock(c.path + "/" + name)()
	return retryOnRace(func() error {
		if _, err := c.h.c.Do(ctx, http.MethodPatch, c.item(name), fields, ""); err != nil {
			return fmt.Errorf("updating %s %s: %w", c.kind, name, c.notFound(name, err))
		}
		return nil
	})
}

// retryOnRace runs a write again while it loses a race with another
// writer, 20 times at most: the ETag changed (412), or the daemon refused
// it while another update of the object ran (hostapi.UpdateRace).
func retryOnRace(write func() error) error {
	for attempt := 0; ; attempt++ {
		err := write()
		if attempt == 20 || !(errors.Is(err, errdefs.ErrPreconditionFailed) || hostapi.UpdateRace.In(err)) {
			return err
		}
	}
}

// Delete deletes an object; a missing one is success. One still in use
// is refused by the daemon, and the error says by what.
func (c *Collection[T, Put, Post]) Delete(ctx context.Context, name string) error {
	if err := c.check(name); err != nil {
		return err
	}
	_, err := c.h.c.Do(ctx, http.MethodDelete, c.item(name), nil, "")
	if err == nil || errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if hostapi.InUse.In(err) {
		// The daemons answer 400; what the caller must do is free it.
		users := ""
		if t, _, gerr := c.get(ctx, name); gerr == nil && c.usedBy != nil && len(c.usedBy(t)) > 0 {
			users = " by " + strings.Join(c.usedBy(t), ", ")
		}
		return errdefs.Wrap(errdefs.ErrConflict, err, "deleting %s %s: it is in use%s", c.kind, name, users)
	}
	return fmt.Errorf("deleting %s %s: %w", c.kind, name, err)
}

// Rename renames an object. A missing one is an error matching
// errdefs.ErrNotFound, an existing newName one matching ErrConflict.
func (c *Collection[T, Put, Post]) Rename(ctx context.Context, name, newName string) error {
	if err := c.checkNew(newName); err != nil {
		return err
	}
	if _, _, err := c.get(ctx, name); err != nil {
		return err
	}
	if ok, err := c.Exists(ctx, newName); err != nil {
		return err
	} else if ok {
		return errdefs.Wrap(errdefs.ErrConflict, nil, "renaming %s %s: %s %s already exists on %s", c.kind, name, c.kind, newName, c.h.c.Addr())
	}
	_, err := c.h.c.Do(ctx, http.MethodPost, c.item(name), map[string]string{"name": newName}, "")
	if err != nil {
		return fmt.Errorf("renaming %s %s to %s: %w", c.kind, name, newName, c.changeFailed(name, err))
	}
	return nil
}
