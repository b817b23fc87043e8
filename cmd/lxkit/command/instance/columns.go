package instance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/driver"
)

// A column of `lxkit list`: its header and what a record shows in it.
type column struct {
	header string
	cell   func(r *Record) string
}

// columns are list's columns by lxc's letters, and names for them.
var columns = map[string]column{
	"n": {"NAME", func(r *Record) string { return r.Name }},
	"s": {"STATUS", func(r *Record) string { return strings.ToLower(r.Status) }},
	"4": {"IPV4", func(r *Record) string { return withState(r, driver.FirstIPv4) }},
	"6": {"IPV6", func(r *Record) string { return withState(r, driver.FirstIPv6) }},
	"t": {"TYPE", func(r *Record) string {
		if r.IsContainer() {
			return "container"
		}
		return r.Type
	}},
	"S": {"SNAPSHOTS", func(r *Record) string { return strconv.Itoa(len(r.Snapshots)) }},
	"l": {"LAST USED", func(r *Record) string {
		if r.LastUsedAt.Unix() <= 0 { // never used: the daemons say 1970
			return ""
		}
		return cmdutil.FormatTime(r.LastUsedAt)
	}},
	"L": {"LOCATION", func(r *Record) string { return r.Location }},
	"c": {"CREATED", func(r *Record) string { return cmdutil.FormatTime(r.CreatedAt) }},
	"P": {"PROFILES", func(r *Record) string { return strings.Join(r.Profiles, ",") }},
	"p": {"PID", func(r *Record) string {
		if r.State == nil || r.State.Pid <= 0 {
			return ""
		}
		return strconv.FormatInt(r.State.Pid, 10)
	}},
	"d": {"DESCRIPTION", func(r *Record) string { return r.Description }},
	"m": {"MEMORY", func(r *Record) string {
		if r.State == nil || r.State.Memory.Usage <= 0 {
			return ""
		}
		return fmt.Sprintf("%.1fMiB", float64(r.State.Memory.Usage)/(1<<20))
	}},
	"b": {"STORAGE POOL", func(r *Record) string { return r.ExpandedDevices["root"]["pool"] }},
	"f": {"BASE IMAGE", func(r *Record) string {
		fp := r.ExpandedConfig["volatile.base_image"]
		return fp[:min(12, len(fp))]
	}},
	"e": {"PROJECT", func(r *Record) string { return r.Project }},
}

// columnNames are the names `-c` takes beside the letters.
var columnNames = map[string]string{
	"name": "n", "status": "s", "ipv4": "4", "ipv6": "6", "type": "t", "snapshots": "S",
	"last-used": "l", "location": "L", "created": "c", "profiles": "P", "pid": "p",
	"description": "d", "memory": "m", "pool": "b", "image": "f", "project": "e",
}

// columnLetters is the order `lxkit list --help` gives the letters in.
const columnLetters = "ns46tSlLcPpdmbfe"

// defaultColumns are NAME, STATUS and IPV4, then TYPE when a virtual
// machine is listed and LOCATION on a cluster.
func defaultColumns(vms, clustered bool) string {
	c := "ns4"
	if vms {
		c += "t"
	}
	if clustered {
		c += "L"
	}
	return c
}

// parseColumns reads -c: comma-separated parts, each a column's name
// ("name,status,type"), a configuration key ("user.role",
// "config:user.role", shown under the key in capitals), or a run of
// lxc's letters ("ns4t"), as `lxc list -c` takes them.
func parseColumns(spec string) ([]column, error) {
	var out []column
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
			return nil, cmdutil.FlagErrorf("-c %q: an empty column", spec)
		case columnNames[part] != "":
			out = append(out, columns[columnNames[part]])
		case strings.HasPrefix(part, "config:") || strings.Contains(part, "."):
			key := strings.TrimPrefix(part, "config:")
			out = append(out, column{strings.ToUpper(key), func(r *Record) string { return r.ExpandedConfig[key] }})
		default:
			for _, l := range part {
				c, ok := columns[string(l)]
				if !ok {
					return nil, cmdutil.FlagErrorf("-c %q: no column %q: use the letters %s, the names %s, or a configuration key",
						spec, string(l), columnLetters, strings.Join(sortedNames(), ", "))
				}
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func sortedNames() []string {
	var names []string
	for n := range columnNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// withState is f of the record's state, or "" without one.
func withState(r *Record, f func(*api.InstanceState) string) string {
	if r.State == nil {
		return ""
	}
	return f(r.State)
}
