package fleet

import (
	"slices"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/spec"
)

// Target is where a Spec's placement puts a new instance without lxkit
// choosing: its member, "@GROUP", or "" (the daemon chooses). Spread is
// chosen by Diff, which sees the whole fleet.
func Target(p *spec.Placement) string {
	switch {
	case p == nil:
		return ""
	case p.Target != "":
		return p.Target
	case p.Group != "":
		return "@" + p.Group
	}
	return ""
}

// cluster is what Diff knows of the host's members.
type cluster struct {
	members []api.ClusterMember // sorted by name; none on a standalone host
}

func newCluster(members []api.ClusterMember) cluster {
	var c cluster
	for _, m := range members {
		if m.Status != "Standalone" {
			c.members = append(c.members, m)
		}
	}
	slices.SortFunc(c.members, func(a, b api.ClusterMember) int { return strings.Compare(a.ServerName, b.ServerName) })
	return c
}

func (c cluster) clustered() bool { return len(c.members) > 0 }

// status is a member's status, "unknown" for one the cluster does not list.
func (c cluster) status(member string) string {
	for _, m := range c.members {
		if m.ServerName == member {
			return strings.ToLower(m.Status)
		}
	}
	return "unknown"
}

// online reports whether an instance at location can be reached: always
// on a standalone host.
func (c cluster) online(location string) bool {
	return !c.clustered() || !hostapi.OnCluster(location) || c.status(location) == "online"
}

// place sets each create's Target (and, when lxkit chooses, its Member):
// a member or a group as the Spec says, or with spread the online member
// (of the group, when given) with the fewest instances of the fleet,
// counting those placed before it; ties go to the first by name. A
// standalone host places nothing.
func (c cluster) place(f *Fleet, have []api.Instance, plan []Change) {
	if !c.clustered() {
		return
	}
	count := map[string]int{}
	for _, inst := range have {
		if inst.Config[KeyFleet] == f.Name && hostapi.OnCluster(inst.Location) {
			count[inst.Location]++
		}
	}
	for i := range plan {
		ch := &plan[i]
		if ch.Action != Create || ch.Spec == nil || ch.Spec.Placement == nil {
			continue
		}
		p := ch.Spec.Placement
		if !p.Spread {
			ch.Target = Target(p)
			if p.Target != "" {
				ch.Member = p.Target
			}
			continue
		}
		best := ""
		for _, m := range c.members {
			if m.Status != "Online" || (p.Group != "" && !slices.Contains(m.Groups, p.Group)) {
				continue
			}
			if best == "" || count[m.ServerName] < count[best] {
				best = m.ServerName
			}
		}
		if best == "" { // no online member fits: the daemon says why
			ch.Target = Target(&spec.Placement{Group: p.Group})
			continue
		}
		count[best]++
		ch.Target, ch.Member = best, best
	}
}
