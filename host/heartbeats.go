package host

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
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
// Each wait is bounded by two heartbeat intervals and a round's overrun.
// A member whose last recorded heartbeat is older than the cluster's
// threshold by more than that is down, and refused at once.
func (h *Host) whenOnline(ctx context.Context, member string, place func() error) error {
	err := place()
	if !hostapi.MemberOffline.In(err) && !hostapi.MemberDown.In(err) {
		return err
	}
	interval := h.heartbeatInterval(ctx)
	patience := 2*interval + roundOverrun
	deadline := time.Now().Add(patience)
	for {
		m, merr := h.ClusterMember(ctx, member)
		if merr != nil {
			return err
		}
		online := strings.EqualFold(m.Status, "Online")
		switch {
		case !online && unheardFor(m) > 2*interval+patience:
			return fmt.Errorf("%w (cluster member %s: %s)", err, member, m.Message)
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

// unheardFor reads how long ago an offline member's last heartbeat was
// recorded from its message, "No heartbeat for 1m3.2s (TIME)" (LXD 5.0.2,
// Incus 6.0.4); 0 when the message says otherwise.
func unheardFor(m *api.ClusterMember) time.Duration {
	rest, ok := strings.CutPrefix(m.Message, "No heartbeat for ")
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(strings.Fields(rest + " ")[0])
	if err != nil {
		return 0
	}
	return d
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
