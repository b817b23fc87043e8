package cloudconfig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/transport"
)

// packager drives one package manager.
type packager struct {
	env     map[string]string
	update  []string
	upgrade []string
	install func(pkgs []Package) []string
	// missing returns the packages that are not installed (at the pinned
	// version, when there is one), without the network.
	missing func(ctx context.Context, a *applier, pkgs []Package) ([]Package, error)
}

// aptGet runs apt-get without questions, keeping changed configuration
// files as cloud-init does, and waiting for another apt to finish.
var aptGet = []string{"apt-get", "-q", "-y",
	"-o", "Dpkg::Options::=--force-confold", "-o", "DPkg::Lock::Timeout=300"}

var packagers = map[string]*packager{
	"apt": {
		env:     map[string]string{"DEBIAN_FRONTEND": "noninteractive"},
		update:  slices.Concat(aptGet, []string{"update"}),
		upgrade: slices.Concat(aptGet, []string{"dist-upgrade"}),
		install: func(pkgs []Package) []string {
			return slices.Concat(aptGet, []string{"install"}, pinned(pkgs, "="))
		},
		missing: dpkgMissing,
	},
	"apk": {
		update:  []string{"apk", "update", "--no-progress"},
		upgrade: []string{"apk", "upgrade", "--no-progress"},
		install: func(pkgs []Package) []string {
			return append([]string{"apk", "add", "--no-progress"}, pinned(pkgs, "=")...)
		},
		missing: func(ctx context.Context, a *applier, pkgs []Package) ([]Package, error) {
			// A pinned version is left to apk add, which does nothing
			// when it is installed.
			return shellMissing(ctx, a, pkgs, `apk info -e "$p"`, "")
		},
	},
	"dnf": rpmPackager("dnf"),
	"yum": rpmPackager("yum"),
}

func rpmPackager(tool string) *packager {
	return &packager{
		update:  []string{tool, "-y", "makecache"},
		upgrade: []string{tool, "-y", "upgrade"},
		install: func(pkgs []Package) []string {
			return append([]string{tool, "-y", "install"}, pinned(pkgs, "-")...)
		},
		missing: func(ctx context.Context, a *applier, pkgs []Package) ([]Package, error) {
			return shellMissing(ctx, a, pkgs, `rpm -q --quiet "$p"`, "-")
		},
	}
}

// pinned returns the package arguments: name, or name SEP version.
func pinned(pkgs []Package, sep string) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.Name
		if p.Version != "" {
			out[i] += sep + p.Version
		}
	}
	return out
}

// shellMissing runs test (with the package in $p) for each package in one
// command; versionSep, when not empty, puts the version into $p.
func shellMissing(ctx context.Context, a *applier, pkgs []Package, test, versionSep string) ([]Package, error) {
	var args []string
	if versionSep != "" {
		args = pinned(pkgs, versionSep)
	} else {
		for _, p := range pkgs {
			if p.Version == "" {
				args = append(args, p.Name)
			}
		}
	}
	script := `for p; do if ` + test + ` >/dev/null 2>&1; then echo "$p"; fi; done; true`
	res, err := a.query(ctx, append([]string{"/bin/sh", "-c", script, "sh"}, args...)...)
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("checking installed packages: %w", err)
	}
	installed := map[string]bool{}
	for _, l := range strings.Fields(string(res.Stdout)) {
		installed[l] = true
	}
	var missing []Package
	for i, p := range pkgs {
		key := p.Name
		if versionSep != "" {
			key = args[i]
		} else if p.Version != "" {
			missing = append(missing, p)
			continue
		}
		if !installed[key] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// dpkgMissing asks dpkg-query which packages are installed ("ii").
func dpkgMissing(ctx context.Context, a *applier, pkgs []Package) ([]Package, error) {
	args := []string{"dpkg-query", "-W", "-f", `${binary:Package}\t${Package}\t${db:Status-Abbrev}\t${Version}\n`}
	for _, p := range pkgs {
		args = append(args, p.Name)
	}
	res, err := a.query(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("checking installed packages: %w", err)
	}
	// dpkg-query exits 1 when a package is unknown to dpkg; more is a failure.
	if res.ExitCode > 1 {
		return nil, fmt.Errorf("checking installed packages: %w", exitErr("dpkg-query", res))
	}
	return dpkgFilter(pkgs, string(res.Stdout)), nil
}

// dpkgFilter returns the packages that the dpkg-query output does not
// show installed, at the pinned version if there is one.
func dpkgFilter(pkgs []Package, out string) []Package {
	type entry struct{ status, version string }
	byName := map[string][]entry{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		e := entry{strings.TrimSpace(f[2]), f[3]}
		byName[f[0]] = append(byName[f[0]], e)
		if f[1] != f[0] {
			byName[f[1]] = append(byName[f[1]], e)
		}
	}
	var missing []Package
	for _, p := range pkgs {
		ok := false
		for _, e := range byName[p.Name] {
			if strings.HasPrefix(e.status, "ii") && (p.Version == "" || p.Version == e.version) {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, p)
		}
	}
	return missing
}

// uniquePackages drops repeated packages (merged files often repeat
// them), keeping the first.
func uniquePackages(pkgs []Package) []Package {
	seen := map[Package]bool{}
	var out []Package
	for _, p := range pkgs {
		k := Package{Name: p.Name, Version: p.Version}
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

func (a *applier) packages(ctx context.Context, cfg *Config) error {
	if len(cfg.Packages) == 0 && !cfg.PackageUpdate && !cfg.PackageUpgrade {
		return nil
	}
	o := cfg.origin("package_update")
	switch {
	case len(cfg.Packages) > 0:
		o = cfg.Packages[0].Origin
	case !cfg.PackageUpdate:
		o = cfg.origin("package_upgrade")
	}
	sys, err := a.system(ctx)
	if err != nil {
		return stepError(o, err)
	}
	pm := packagers[sys.PackageManager]
	if pm == nil {
		why := fmt.Sprintf("os-release ID %q", sys.ID)
		if sys.ID == "" {
			why = "no /etc/os-release"
		}
		return stepError(o, fmt.Errorf("no package manager known for this container (%s): "+
			"apt-get on Debian and Ubuntu, apk on Alpine, dnf or yum on Fedora and the RHEL family", why))
	}
	pkgs := uniquePackages(cfg.Packages)
	var missing []Package
	if len(pkgs) > 0 {
		if missing, err = pm.missing(ctx, a, pkgs); err != nil {
			return stepError(o, err)
		}
	}
	if cfg.PackageUpdate || cfg.PackageUpgrade || len(missing) > 0 {
		if err := a.awaitRoute(ctx); err != nil {
			return stepError(o, err)
		}
	}
	if cfg.PackageUpdate {
		o := cfg.origin("package_update")
		a.progress(o, strings.Join(pm.update, " "))
		if err := a.run(ctx, "", pm.update, nil, pm.env); err != nil {
			return stepError(o, err)
		}
	}
	if cfg.PackageUpgrade {
		o := cfg.origin("package_upgrade")
		a.progress(o, strings.Join(pm.upgrade, " "))
		if err := a.run(ctx, "", pm.upgrade, nil, pm.env); err != nil {
			return stepError(o, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names := pinned(missing, " ")
	for i := range names {
		names[i] = strings.ReplaceAll(names[i], " ", " version ")
	}
	o = missing[0].Origin
	a.progress(o, "installing "+strings.Join(names, ", "))
	err = a.run(ctx, "", pm.install(missing), nil, pm.env)
	var es *exitStatus
	if errors.As(err, &es) {
		what := "package " + names[0] + " is"
		if len(names) > 1 {
			what = "packages " + strings.Join(names, ", ") + " are"
		}
		hint := ""
		if !cfg.PackageUpdate {
			hint = " (package_update: true refreshes the package lists first)"
		}
		es.What = ""
		return stepError(o, fmt.Errorf("%s not installed and cannot be installed: %w%s", what, es, hint))
	}
	return stepError(o, err)
}

// awaitRoute waits, for routeWait at most, until the container has an IPv4
// route or a global IPv6 address off the loopback, as cloud-init installs
// packages only once the network is online: a Debian container's DHCP
// lease comes a few seconds after it starts, and apt-get run before then
// fails "Network is unreachable" (TestOriginDebian/incus, ci83: a job's
// provisioning right after its container started). A container that gets
// no route goes on after the wait, and its package manager says why.
func (a *applier) awaitRoute(ctx context.Context) error {
	_, err := a.tr.Exec(ctx, transport.Command{Args: []string{"/bin/sh", "-c", routeScript, "sh", strconv.Itoa(int(routeWait / (100 * time.Millisecond)))}, Dir: "/"})
	return err
}

// routeWait bounds awaitRoute.
const routeWait = 30 * time.Second

// routeScript polls /proc every 100 ms, $1 times at most.
const routeScript = `i=0
while [ "$i" -lt "$1" ]; do
  while read -r ifc rest; do
    [ "$ifc" != Iface ] && [ "$ifc" != lo ] && exit 0
  done </proc/net/route
  if [ -r /proc/net/if_inet6 ]; then
    while read -r addr idx plen scope flags ifc; do
      [ "$ifc" != lo ] && [ "$scope" = 00 ] && exit 0
    done </proc/net/if_inet6
  fi
  sleep 0.1 2>/dev/null || sleep 1
  i=$((i + 1))
done`
