package testhost

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/hostapi"
)

// State is what a host has, as far as a test of bad input cares: each
// object ("profile web") with what defines it (its configuration,
// devices, aliases...) as JSON. What changes by itself (status,
// last_used_at, volatile.* keys, unmanaged interfaces, cached images)
// is left out.
type State map[string]string

// Keep says which objects a State holds, by name.
type Keep func(name string) bool

// others matches the names other tests give their objects: Name's
// "lxkit-..." and the short ones of networks and the like, "lxk...".
var others = regexp.MustCompile(`^lxk`)

// NotOthers keeps every object but those of other tests (names that
// start with "lxk", as Name's do, and images without an alias, which some
// publish), unless their name starts with own: tests of several packages
// run against the same daemons at once (make test runs packages side by
// side), and make and delete their objects meanwhile.
func NotOthers(own string) Keep {
	return func(name string) bool {
		return name != "" && (strings.HasPrefix(name, own) || !others.MatchString(name))
	}
}

// TakeState reads the state of the host behind c (instances of every
// project, with their snapshots; profiles, storage pools and all their
// volumes, images, managed networks, trusted certificates and
// projects), with the objects keep keeps. It fails the test when the host
// does not answer.
func TakeState(t testing.TB, c *client.Client, keep Keep) State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := readState(ctx, c, keep)
	if err != nil {
		t.Fatalf("reading the state of %s: %v", c.Addr(), err)
	}
	return s
}

// Unchanged fails the test, listing the differences, when the host's
// state is no longer before.
func Unchanged(t testing.TB, c *client.Client, keep Keep, before State, what string) {
	t.Helper()
	if diff := before.Diff(TakeState(t, c, keep)); len(diff) > 0 {
		t.Errorf("%s changed the state of %s:\n%s", what, c.Addr(), strings.Join(diff, "\n"))
	}
}

// Diff lists what differs from s in after: "+ kind name" for what is
// new, "- kind name" for what is gone, "~ kind name: before -> after"
// for what changed; nil when nothing did.
func (s State) Diff(after State) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		v, ok := after[k]
		switch {
		case !ok:
			out = append(out, "- "+k)
		case v != s[k]:
			out = append(out, fmt.Sprintf("~ %s: %s -> %s", k, s[k], v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if _, ok := s[k]; !ok {
			out = append(out, "+ "+k)
		}
	}
	return out
}

// reader reads a host's state into s, keeping what keep keeps.
type reader struct {
	ctx  context.Context
	c    *client.Client
	keep Keep
	s    State
}

func (r *reader) add(kind, name string, v any) {
	b, _ := json.Marshal(v)
	r.s[kind+" "+name] = string(b)
}

// each calls f for each object of the list at path.
func each[T any](r *reader, path string, f func(T) error) error {
	var list []T
	if _, err := r.c.Query(r.ctx, http.MethodGet, path, nil, &list); err != nil {
		return err
	}
	for _, x := range list {
		if err := f(x); err != nil {
			return err
		}
	}
	return nil
}

func readState(ctx context.Context, c *client.Client, keep Keep) (State, error) {
	r := &reader{ctx: ctx, c: c, keep: keep, s: State{}}
	// cachedImage says whether the daemon may drop an image by itself.
	type cachedImage struct {
		api.Image
		Cached bool `json:"cached"`
	}
	for _, read := range []func() error{
		func() error { return each(r, "/1.0/instances?recursion=1&all-projects=true", r.instance) },
		func() error {
			return each(r, "/1.0/profiles?recursion=1", func(p api.Profile) error {
				return r.named("profile", p.Name, p.ProfilePut)
			})
		},
		func() error {
			return each(r, "/1.0/projects?recursion=1", func(p api.Project) error {
				return r.named("project", p.Name, p.ProjectPut)
			})
		},
		func() error { return each(r, "/1.0/storage-pools?recursion=1", r.pool) },
		func() error {
			return each(r, "/1.0/networks?recursion=1", func(n api.Network) error {
				// Unmanaged ones are the machine's interfaces, which
				// containers' starts and stops make and remove.
				if !n.Managed {
					return nil
				}
				return r.named("network", n.Name, []any{n.Type, stable(n.Config), n.Description})
			})
		},
		func() error {
			return each(r, "/1.0/images?recursion=1", func(img cachedImage) error {
				if !img.Cached {
					r.image(img.Image)
				}
				return nil
			})
		},
		func() error {
			return each(r, "/1.0/certificates?recursion=1", func(c api.Certificate) error {
				if keep(c.Name) {
					r.add("certificate", c.Fingerprint, []any{c.Name, c.Type, c.Restricted, c.Projects})
				}
				return nil
			})
		},
	} {
		if err := read(); err != nil {
			return nil, err
		}
	}
	return r.s, nil
}

// named adds an object that keep keeps by its name.
func (r *reader) named(kind, name string, v any) error {
	if r.keep(name) {
		r.add(kind, name, v)
	}
	return nil
}

func (r *reader) instance(i api.Instance) error {
	if !r.keep(i.Name) {
		return nil
	}
	name := i.Project + "/" + i.Name
	r.add("instance", name, []any{i.Type, stable(i.Config), i.Devices, i.Profiles, i.Ephemeral, i.Description})
	return each(r, hostapi.WithProject(hostapi.InstancePath(i.Name, "snapshots"), i.Project), func(snap string) error {
		r.add("snapshot", name+"/"+lastPart(snap), nil)
		return nil
	})
}

func (r *reader) pool(p api.StoragePool) error {
	if !r.keep(p.Name) {
		return nil
	}
	r.add("storage-pool", p.Name, []any{p.Driver, stable(p.Config), p.Description})
	return each(r, "/1.0/storage-pools/"+url.PathEscape(p.Name)+"/volumes?recursion=1", func(v api.StorageVolume) error {
		if r.keep(v.Name) {
			r.add("volume", p.Name+"/"+v.Type+"/"+v.Name, []any{v.ContentType, stable(v.Config), v.Description})
		}
		return nil
	})
}

// image adds an image by fingerprint, kept when keep keeps one of its
// aliases, with those aliases only: other tests add theirs to shared
// images (ci of stop 26: an "lxkit-alias-..." on testimage).
func (r *reader) image(img api.Image) {
	var aliases []string
	for _, a := range img.Aliases {
		if r.keep(a.Name) {
			aliases = append(aliases, a.Name)
		}
	}
	if len(aliases) > 0 {
		slices.Sort(aliases)
		r.add("image", img.Fingerprint, []any{aliases, img.Public, img.Properties})
	}
}

// stable is a configuration without the volatile.* keys, which the
// daemon changes by itself.
func stable(config map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range config {
		if !strings.HasPrefix(k, "volatile.") {
			out[k] = v
		}
	}
	return out
}

// lastPart is the last element of an API URL, unescaped.
func lastPart(u string) string {
	u, _, _ = strings.Cut(u, "?")
	last := u[strings.LastIndexByte(u, '/')+1:]
	if s, err := url.PathUnescape(last); err == nil {
		return s
	}
	return last
}
