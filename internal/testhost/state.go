package testhost

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
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
// start with "lxk", as Name's do, and images without an alias, which some publish), unless
// their name starts with own. Developers run tests of several packages
// against the same daemons at once, and those tests make and delete
// their objects meanwhile; under CI=true packages run one at a time, so
// NotOthers keeps everything there.
func NotOthers(own string) Keep {
	if os.Getenv("CI") == "true" {
		return func(string) bool { return true }
	}
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

func readState(ctx context.Context, c *client.Client, keep Keep) (State, error) {
	s := State{}
	add := func(kind, name string, v any) {
		b, _ := json.Marshal(v)
		s[kind+" "+name] = string(b)
	}
	get := func(path string, out any) error {
		_, err := c.Query(ctx, http.MethodGet, path, nil, out)
		return err
	}

	var instances []api.Instance
	if err := get("/1.0/instances?recursion=1&all-projects=true", &instances); err != nil {
		return nil, err
	}
	for _, i := range instances {
		if !keep(i.Name) {
			continue
		}
		name := i.Project + "/" + i.Name
		add("instance", name, []any{i.Type, stable(i.Config), i.Devices, i.Profiles, i.Ephemeral, i.Description})
		var snaps []string
		if err := get(api.WithProject("/1.0/instances/"+url.PathEscape(i.Name)+"/snapshots", i.Project), &snaps); err != nil {
			return nil, err
		}
		for _, snap := range snaps {
			add("snapshot", name+"/"+lastPart(snap), nil)
		}
	}

	var profiles []api.Profile
	if err := get("/1.0/profiles?recursion=1", &profiles); err != nil {
		return nil, err
	}
	for _, p := range profiles {
		if keep(p.Name) {
			add("profile", p.Name, p.ProfilePut)
		}
	}

	var projects []api.Project
	if err := get("/1.0/projects?recursion=1", &projects); err != nil {
		return nil, err
	}
	for _, p := range projects {
		if keep(p.Name) {
			add("project", p.Name, p.ProjectPut)
		}
	}

	var pools []api.StoragePool
	if err := get("/1.0/storage-pools?recursion=1", &pools); err != nil {
		return nil, err
	}
	for _, p := range pools {
		if !keep(p.Name) {
			continue
		}
		add("storage-pool", p.Name, []any{p.Driver, stable(p.Config), p.Description})
		var vols []api.StorageVolume
		if err := get("/1.0/storage-pools/"+url.PathEscape(p.Name)+"/volumes?recursion=1", &vols); err != nil {
			return nil, err
		}
		for _, v := range vols {
			if keep(v.Name) {
				add("volume", p.Name+"/"+v.Type+"/"+v.Name, []any{v.ContentType, stable(v.Config), v.Description})
			}
		}
	}

	var networks []api.Network
	if err := get("/1.0/networks?recursion=1", &networks); err != nil {
		return nil, err
	}
	for _, n := range networks {
		// Unmanaged ones are the machine's interfaces, which containers'
		// starts and stops make and remove.
		if n.Managed && keep(n.Name) {
			add("network", n.Name, []any{n.Type, stable(n.Config), n.Description})
		}
	}

	var images []struct {
		api.Image
		Cached bool `json:"cached"`
	}
	if err := get("/1.0/images?recursion=1", &images); err != nil {
		return nil, err
	}
	for _, img := range images {
		// The daemon drops cached images by itself.
		if img.Cached {
			continue
		}
		var aliases []string
		for _, a := range img.Aliases {
			aliases = append(aliases, a.Name)
		}
		slices.Sort(aliases)
		if len(aliases) == 0 {
			aliases = []string{""} // for keep: an image without a name
		}
		if slices.ContainsFunc(aliases, func(a string) bool { return keep(a) }) {
			add("image", img.Fingerprint, []any{aliases, img.Public, img.Properties})
		}
	}

	var certs []api.Certificate
	if err := get("/1.0/certificates?recursion=1", &certs); err != nil {
		return nil, err
	}
	for _, cert := range certs {
		if keep(cert.Name) {
			add("certificate", cert.Fingerprint, []any{cert.Name, cert.Type, cert.Restricted, cert.Projects})
		}
	}
	return s, nil
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
