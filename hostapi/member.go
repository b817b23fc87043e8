package hostapi

import (
	"encoding/json"

	"github.com/lxkit/lxkit/errdefs"
)

// NameMember returns err naming the cluster member that instance name is
// on, for an error the daemon gave in words that name no member
// (MemberDown). instances is the answer's metadata to GET
// /1.0/instances?recursion=1 in the instance's project: the daemons list
// the instances of members that are down too, with their location. Any
// other error, or an instance not in the list, is returned as it was.
func NameMember(err error, name string, instances []byte) error {
	if !MemberDown.In(err) {
		return err
	}
	var list []struct {
		Name     string `json:"name"`
		Location string `json:"location"`
	}
	if json.Unmarshal(instances, &list) != nil {
		return err
	}
	for _, inst := range list {
		if inst.Name == name && OnCluster(inst.Location) {
			return errdefs.Wrap(errdefs.ErrUnavailable, err, "instance %s is on cluster member %s, which does not answer", name, inst.Location)
		}
	}
	return err
}
