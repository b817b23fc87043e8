package cloudconfig

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/transport"
)

// System is what Detect found in a container: its distribution, and the
// tools Apply uses for packages and accounts.
type System struct {
	// ID and IDLike are os-release's ID and ID_LIKE ("debian", ["debian"]
	// for Ubuntu's ID_LIKE); empty without an os-release file (busybox).
	ID     string
	IDLike []string
	// PackageManager is "apt", "apk", "dnf" or "yum", or empty when the
	// distribution has none that Apply knows.
	PackageManager string
	// Accounts is how users and groups are made: "shadow" (useradd,
	// groupadd, usermod), "busybox" (adduser, addgroup) or "files" (direct
	// edits of /etc/passwd and its siblings).
	Accounts string
	// Tools are the commands, among those Apply may use, that are on
	// the container's PATH.
	Tools []string
}

// Has reports whether the container has the command.
func (s *System) Has(tool string) bool { return slices.Contains(s.Tools, tool) }

// probedTools are the commands whose presence Detect checks.
var probedTools = []string{
	"useradd", "groupadd", "usermod", "adduser", "addgroup", "chpasswd", "passwd", "visudo",
	"apt-get", "dpkg-query", "apk", "dnf", "yum", "rpm",
}

// Detect reads /etc/os-release (else /usr/lib/os-release) and looks for
// the tools Apply uses. Note that busybox has dpkg and rpm
// applets: the package manager follows os-release, not the tools alone.
func Detect(ctx context.Context, tr transport.Transport) (*System, error) {
	s := &System{}
	rel, err := readFiles(ctx, tr, "/etc/os-release", "/usr/lib/os-release")
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if data, ok := rel[p]; ok {
			fields := parseOSRelease(string(data))
			s.ID = fields["ID"]
			s.IDLike = strings.Fields(fields["ID_LIKE"])
			break
		}
	}
	const script = `for c; do command -v "$c" >/dev/null 2>&1 && echo "$c"; done; true`
	res, err := tr.Exec(ctx, transport.Command{Args: append([]string{"/bin/sh", "-c", script, "sh"}, probedTools...), Capture: true})
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("looking for tools: %w", err)
	}
	s.Tools = strings.Fields(string(res.Stdout))
	s.PackageManager = packageManager(s)
	switch {
	case s.Has("useradd") && s.Has("groupadd") && s.Has("usermod"):
		s.Accounts = "shadow"
	case s.Has("adduser") && s.Has("addgroup") && s.Has("passwd"):
		s.Accounts = "busybox"
	default:
		s.Accounts = "files"
	}
	return s, nil
}

// packageManager picks the package manager by the distribution's family.
func packageManager(s *System) string {
	for _, id := range append([]string{s.ID}, s.IDLike...) {
		switch id {
		case "debian", "ubuntu":
			if s.Has("apt-get") && s.Has("dpkg-query") {
				return "apt"
			}
		case "alpine":
			if s.Has("apk") {
				return "apk"
			}
		case "fedora", "rhel", "centos", "rocky", "almalinux", "ol", "amzn":
			if s.Has("dnf") && s.Has("rpm") {
				return "dnf"
			}
			if s.Has("yum") && s.Has("rpm") {
				return "yum"
			}
		}
	}
	return ""
}

// parseOSRelease reads os-release's KEY=value lines, values quoted or not.
func parseOSRelease(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			q := v[0]
			v = v[1 : len(v)-1]
			if q == '"' {
				r := strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, "\\`", "`")
				v = r.Replace(v)
			}
		}
		out[k] = v
	}
	return out
}
