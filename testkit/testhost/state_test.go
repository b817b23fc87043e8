package testhost

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
)

func TestDiff(t *testing.T) {
	before := State{"profile a": `{}`, "profile b": `{"x":1}`, "network n": `{}`}
	after := State{"profile a": `{}`, "profile b": `{"x":2}`, "volume v": `{}`}
	want := []string{"- network n", `~ profile b: {"x":1} -> {"x":2}`, "+ volume v"}
	if got := before.Diff(after); !slices.Equal(got, want) {
		t.Errorf("Diff = %q; want %q", got, want)
	}
	if got := before.Diff(before); got != nil {
		t.Errorf("Diff of a state with itself = %q", got)
	}
}

func TestNotOthers(t *testing.T) {
	keep := NotOthers("lxkit-names-1234")
	for name, want := range map[string]bool{
		"lxkit-names-1234-p": true, "web": true, "default": true, "ünï": true, "lxfoo": true, "lxkfoo": false,
		"lxkit-other-5678": false, "lxk0123abcd": false, "lxk0123abcd-x": false, "": false,
	} {
		if got := keep(name); got != want {
			t.Errorf("NotOthers keeps %q: %v; want %v", name, got, want)
		}
	}
}

// TestTakeState sees a profile and a snapshot come and go, and a changed
// configuration, but not a container's start.
func TestTakeState(t *testing.T) {
	for _, h := range Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			c := Connect(t, h)
			ctx := Context(t, 2*time.Minute)
			own := Name("state")
			keep := NotOthers(own)
			start := time.Now()
			before := TakeState(t, c, keep)
			t.Logf("state of %d objects read in %v", len(before), time.Since(start))
			// Each request's time is logged: a run that failed here once
			// (its snapshot's POST still waiting when the two minutes
			// ran out) said nothing of where the time had gone.
			do := func(method, path string, body any) {
				t.Helper()
				start := time.Now()
				_, err := c.Do(ctx, method, path, body, "")
				t.Logf("%s %s: %v", method, path, time.Since(start).Round(time.Millisecond))
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
			}
			profile := "/1.0/profiles/" + url.PathEscape(own)
			// Clean-ups have their own deadline: the test's may have run
			// out (a failed run left its container behind).
			cleanup := func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), time.Minute)
			}
			t.Cleanup(func() {
				ctx, cancel := cleanup()
				defer cancel()
				_, _ = c.Do(ctx, http.MethodDelete, profile, nil, "")
			})
			do(http.MethodPost, "/1.0/profiles", api.ProfilesPost{Name: own})
			mid := TakeState(t, c, keep)
			if got := before.Diff(mid); !slices.Equal(got, []string{"+ profile " + own}) {
				t.Errorf("after creating profile %s: diff %q", own, got)
			}
			do(http.MethodPut, profile, api.ProfilePut{Config: map[string]string{"user.x": "1"}})
			if got := mid.Diff(TakeState(t, c, keep)); len(got) != 1 || got[0][0] != '~' {
				t.Errorf("after changing profile %s: diff %q", own, got)
			}
			do(http.MethodDelete, profile, nil)

			// A container that starts changes nothing; its snapshot does.
			inst := "/1.0/instances/" + url.PathEscape(own)
			t.Cleanup(func() {
				ctx, cancel := cleanup()
				defer cancel()
				_, _ = c.Do(ctx, http.MethodPut, inst+"/state", api.InstanceStatePut{Action: "stop", Force: true}, "")
				_, _ = c.Do(ctx, http.MethodDelete, inst, nil, "")
			})
			do(http.MethodPost, "/1.0/instances", api.InstancesPost{Name: own, Source: api.InstanceSource{Type: "image", Alias: Image}})
			stopped := TakeState(t, c, keep)
			do(http.MethodPut, inst+"/state", api.InstanceStatePut{Action: "start"})
			if got := stopped.Diff(TakeState(t, c, keep)); got != nil {
				t.Errorf("a container's start changed the state: %q", got)
			}
			do(http.MethodPost, inst+"/snapshots", map[string]string{"name": "s1"})
			want := []string{"+ snapshot default/" + own + "/s1", "+ volume default/container/" + own + "/s1"}
			if got := stopped.Diff(TakeState(t, c, keep)); !slices.Equal(got, want) {
				t.Errorf("after a snapshot: diff %q", got)
			}
			do(http.MethodPut, inst+"/state", api.InstanceStatePut{Action: "stop", Force: true})
			do(http.MethodDelete, inst, nil)
			if got := before.Diff(TakeState(t, c, keep)); got != nil {
				t.Errorf("after deleting everything: diff %q", got)
			}
		})
	}
}
