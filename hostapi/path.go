package hostapi

import (
	"net/url"
	"strings"
)

// InstancePath is the API path of an instance, or of what lies under it
// (InstancePath("c1", "snapshots", "s0")): each part is escaped.
func InstancePath(name string, under ...string) string {
	p := "/1.0/instances/" + url.PathEscape(name)
	for _, u := range under {
		p += "/" + url.PathEscape(u)
	}
	return p
}

// WithProject returns an API path (which may carry a query) that acts in
// project; an empty project leaves it as it is.
func WithProject(path, project string) string {
	if project == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "project=" + url.QueryEscape(project)
}
