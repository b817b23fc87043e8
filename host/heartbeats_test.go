package host

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
)

// heartbeatAPI answers for a cluster whose member m3 shows offline for
// its first offline reads, then online.
type heartbeatAPI struct {
	offline int    // reads of m3 left that say Offline
	unheard string // how long m3 has not been heard of, while offline
}

func (f *heartbeatAPI) Addr() string { return "fake" }

func (f *heartbeatAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	var v any
	switch path {
	case "/1.0":
		v = api.Server{Config: map[string]any{"cluster.offline_threshold": "2"}}
	case "/1.0/cluster/members/m3":
		m := api.ClusterMember{ServerName: "m3", Status: "Online", Message: "Fully operational"}
		if f.offline > 0 {
			f.offline--
			m.Status, m.Message = "Offline", "No heartbeat for "+f.unheard+" (2026-12-07 02:40:01.1 +0000 UTC)"
		}
		v = m
	default:
		return "", errors.New("unexpected " + method + " " + path)
	}
	raw, _ := json.Marshal(v)
	return "", json.Unmarshal(raw, out)
}

func (f *heartbeatAPI) Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error) {
	return nil, errors.New("unexpected " + method + " " + path)
}

// TestMoveWaitsForHeartbeat: a move the daemon refuses because it counts
// its target offline, or has no event connection to it yet, is made
// again once the member's heartbeat is recorded (hostapi.HeartbeatsLate);
// one to a member that stays offline fails after the wait, however long
// it has been unheard of, saying so.
func TestMoveWaitsForHeartbeat(t *testing.T) {
	defer func(d time.Duration) { roundOverrun = d }(roundOverrun)
	roundOverrun = time.Second // the patience: 2 s (two intervals of 1 s) and this
	offline := errors.New("Target cluster member is offline")
	noEvents := errors.New("Migrating instance: Failed to connect to destination server: Missing event connection with target cluster member")
	for _, tc := range []struct {
		name     string
		refusals []error
		offline  int
		unheard  string
		places   int
		errWords string // "" for success
		took     time.Duration
	}{
		{name: "placed at once", places: 1},
		{name: "counted offline for a moment", refusals: []error{offline}, offline: 1, unheard: "3s", places: 2},
		{name: "refused twice", refusals: []error{offline, offline}, places: 3},
		{name: "no event connection yet", refusals: []error{offline, noEvents}, offline: 1, unheard: "1s", places: 3},
		{name: "stays offline", refusals: []error{offline}, offline: 99, unheard: "3s", places: 1,
			errWords: "(waited 3s for cluster member m3: offline, No heartbeat for 3s", took: 3 * time.Second},
		{name: "down for long", refusals: []error{offline}, offline: 99, unheard: "1h1m1s", places: 1,
			errWords: "(waited 3s for cluster member m3: offline, No heartbeat for 1h1m1s", took: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &heartbeatAPI{offline: tc.offline, unheard: tc.unheard}
			places := 0
			start := time.Now()
			err := New(f).whenOnline(context.Background(), "m3", func() error {
				places++
				if places <= len(tc.refusals) {
					return tc.refusals[places-1]
				}
				return nil
			})
			took := time.Since(start)
			if places != tc.places {
				t.Errorf("%d requests, want %d", places, tc.places)
			}
			if tc.errWords == "" && err != nil || tc.errWords != "" && (err == nil || !strings.Contains(err.Error(), tc.errWords)) {
				t.Errorf("%v, want %q", err, tc.errWords)
			}
			if took < tc.took || took > tc.took+3*time.Second {
				t.Errorf("took %s, want about %s", took, tc.took)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(&heartbeatAPI{offline: 99, unheard: "1s"}).whenOnline(ctx, "m3", func() error { return offline }); !errors.Is(err, offline) {
		t.Errorf("with its context ended: %v", err)
	}
}
