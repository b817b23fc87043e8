package hostapi

import (
	"net/url"
	"strings"

	"github.com/lxkit/lxkit/api"
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

// InstanceOf returns the name of the instance an API path is about
// (itself or what lies under it, InstancePath's inverse) and true, or
// "" and false for a path about no one instance.
func InstanceOf(path string) (string, bool) {
	path, _, _ = strings.Cut(path, "?")
	rest, ok := strings.CutPrefix(path, "/1.0/instances/")
	if !ok {
		return "", false
	}
	rest, _, _ = strings.Cut(rest, "/")
	name, err := url.PathUnescape(rest)
	if err != nil || name == "" {
		return "", false
	}
	return name, true
}

// WithProject returns an API path (which may carry a query) that acts in
// project; an empty project leaves it as it is.
//
// A path that names its project already keeps it: a request for another
// project than the one a connection works in (a copy to another project).
func WithProject(path, project string) string {
	if u, err := url.Parse(path); err == nil && u.Query().Has("project") {
		return path
	}
	return withQuery(path, "project", project)
}

// WithTarget returns an API path (which may carry a query) that places
// what it makes on a cluster member, or "@GROUP"; an empty target leaves
// it as it is.
func WithTarget(path, target string) string { return withQuery(path, "target", target) }

// withQuery adds key=value to path's query, unless value is empty.
func withQuery(path, key, value string) string {
	if value == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + key + "=" + url.QueryEscape(value)
}

// OnCluster reports whether an instance's location names a cluster
// member: standalone LXD 5.0.2 and Incus 6.0.4 say "none".
func OnCluster(location string) bool { return location != "" && location != "none" }

// ExitCode is the exit code of the command an exec operation ran (its
// metadata's "return"), and false when the operation has none (not ended,
// or not an exec).
func ExitCode(op *api.Operation) (int, bool) {
	if op == nil {
		return -1, false
	}
	v, ok := op.Metadata["return"].(float64)
	if !ok {
		return -1, false
	}
	return int(v), true
}
