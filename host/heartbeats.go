package host

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/pause"
)

// roundOverrun is the longest a leader's heartbeat round was seen to run
// past its interval here: 47 s against 30 s (Incus 6.0.4, make test).
var roundOverrun = 20 * time.Second

// whenOnline runs place, a request that puts something on member, and
// runs it again while the daemons, which count a healthy member offline
// for moments (hostapi.HeartbeatsLate), refuse it:
//   - counted offline (hostapi.MemberOffline): until the member's next
//     heartbeat is recorded;
//   - counted online, but the member that would send to it has no event
//     connection to it yet (hostapi.MemberDown): members make those when
//     a heartbeat tells them of it.
//
// Each wait is bounded by two heartbeat intervals and a round's overrun:
// 80 s with a threshold of 60 s, 40 s with the daemons' default of 20 s.
// So a member that is down is refused after that wait. Its recorded
// heartbeat cannot tell it from one that has just come back: TestMemberDown
// moves to a member whose last heartbeat was 2 m 34 s old, started
// again a moment before.
func (h *Host) whenOnline(ctx context.Context, member string, place func() error) error {
	err := place()
	if !hostapi.MemberOffline.In(err) && !hostapi.MemberDown.In(err) {
		return err
	}
	patience := 2*h.heartbeatInterval(ctx) + roundOverrun
	deadline := time.Now().Add(patience)
	for {
		m, merr := h.ClusterMember(ctx, member)
		if merr != nil {
			return err
		}
		online := strings.EqualFold(m.Status, "Online")
		switch {
		case time.Now().After(deadline):
			return fmt.Errorf("%w (waited %s for cluster member %s: %s, %s)", err, patience, member, strings.ToLower(m.Status), m.Message)
		case online:
			if err = place(); !hostapi.MemberOffline.In(err) && !hostapi.MemberDown.In(err) {
				return err
			}
		}
		if pause.For(ctx, time.Second) != nil {
			return err
		}
	}
}

// heartbeatInterval is how often the cluster's leader sends heartbeats:
// half of cluster.offline_threshold (20 s unless set).
func (h *Host) heartbeatInterval(ctx context.Context) time.Duration {
	threshold := 20 * time.Second
	if cfg, err := h.Config(ctx); err == nil {
		if s, err := strconv.Atoi(cfg["cluster.offline_threshold"]); err == nil && s > 0 {
			threshold = time.Duration(s) * time.Second
		}
	}
	return threshold / 2
}
