package instance

import (
	"slices"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
)

// A listFilter is a filter of `lxkit list`, KEY=VALUE[,VALUE...]: a record matches when
// what KEY names is one of the values. Keys are those of lxc list:
// status, type, location, architecture and name, and configuration keys
// ("config.user.role" or "user.role": the expanded configuration).
type listFilter struct {
	key    string
	values []string
}

// filterKeys are the keys that are not configuration keys, and what each
// reads of a record.
var filterKeys = map[string]func(r *Record) string{
	"status":       func(r *Record) string { return r.Status },
	"type":         func(r *Record) string { return columns["t"].cell(r) },
	"location":     func(r *Record) string { return r.Location },
	"architecture": func(r *Record) string { return r.Architecture },
	"name":         func(r *Record) string { return r.Name },
}

// parseFilter reads one KEY=VALUE[,VALUE...] argument.
func parseFilter(arg string) (listFilter, error) {
	key, value, _ := strings.Cut(arg, "=")
	key = strings.TrimPrefix(strings.TrimSpace(key), "config.")
	if key == "" {
		return listFilter{}, cmdutil.FlagErrorf("filter %q: no key before =", arg)
	}
	if filterKeys[key] == nil && !strings.Contains(key, ".") {
		return listFilter{}, cmdutil.FlagErrorf("filter %q: key %q: use status, type, location, architecture, name or a configuration key (user.x)", arg, key)
	}
	return listFilter{key: key, values: strings.Split(value, ",")}, nil
}

// match reports whether r has one of f's values: status, type and
// location as the daemon says them in any case, configuration values
// exactly.
func (f listFilter) match(r *Record) bool {
	if get := filterKeys[f.key]; get != nil {
		have := get(r)
		return slices.ContainsFunc(f.values, func(v string) bool { return strings.EqualFold(v, have) })
	}
	return slices.Contains(f.values, r.ExpandedConfig[f.key])
}

// matchesAll reports whether r matches every filter.
func matchesAll(filters []listFilter, r *Record) bool {
	for _, f := range filters {
		if !f.match(r) {
			return false
		}
	}
	return true
}
