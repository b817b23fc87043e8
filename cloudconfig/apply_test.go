package cloudconfig

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/transport"
)

func mustParse(t *testing.T, name, text string) *Config {
	t.Helper()
	c, err := Parse(name, []byte(Header+"\n"+text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestApplyOrder checks cloud-init's module order, whatever the order of
// the keys in the file.
func TestApplyOrder(t *testing.T) {
	f := newFake("useradd", "groupadd", "usermod", "chpasswd", "apt-get", "dpkg-query")
	f.files["/etc/os-release"] = []byte("NAME=\"Debian GNU/Linux\"\nID=debian\n")
	cfg := mustParse(t, "all.cfg", `
runcmd: [echo last]
write_files:
  - {path: /late, content: b, defer: true}
  - {path: /early, content: a}
packages: [nginx]
package_update: true
timezone: Europe/Athens
users: [{name: alice}]
groups: [devs]
hostname: web
`)
	var steps []string
	err := Apply(context.Background(), f, cfg, ApplyOptions{Progress: func(s string) { steps = append(steps, s) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"all.cfg: write_files[1]: /early",
		"all.cfg: hostname: web",
		"all.cfg: groups[0]: adding group devs",
		"all.cfg: users[0]: adding user alice",
		"all.cfg: timezone: Europe/Athens",
		"all.cfg: package_update: apt-get -q -y -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=300 update",
		"all.cfg: packages[0]: installing nginx",
		"all.cfg: write_files[0]: /late",
		"all.cfg: runcmd[0]",
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
	if string(f.files["/early"]) != "a" || string(f.files["/late"]) != "b" || string(f.files["/etc/hostname"]) != "web\n" {
		t.Errorf("files: early %q late %q hostname %q", f.files["/early"], f.files["/late"], f.files["/etc/hostname"])
	}
	var install *fakeExec
	for i, e := range f.execs {
		if len(e.args) > 0 && e.args[0] == "apt-get" && e.args[len(e.args)-2] == "install" {
			install = &f.execs[i]
		}
	}
	if install == nil || install.env["DEBIAN_FRONTEND"] != "noninteractive" || install.args[len(install.args)-1] != "nginx" {
		t.Errorf("apt-get install: %+v", install)
	}
}

func TestApplyRuncmdErrors(t *testing.T) {
	f := newFake()
	f.handle = func(args []string, _ string) (string, int) {
		if args[len(args)-1] == "exit 3" {
			return "first line\nboom\n", 3
		}
		return "", 0
	}
	a := mustParse(t, "a.cfg", "runcmd: [[touch, /ok]]\n")
	b := mustParse(t, "web.cfg", "runcmd: [true, exit 3, [touch, /never]]\n")
	err := Apply(context.Background(), f, Merge(a, b), ApplyOptions{})
	if err == nil || err.Error() != "web.cfg: runcmd[1]: exit status 3: first line; boom" {
		t.Fatalf("err = %v", err)
	}
	var se *StepError
	var ee *transport.ExitError
	if !errors.As(err, &se) || se.Origin.File != "web.cfg" || se.Origin.Path != "runcmd[1]" || se.Origin.Line != 2 {
		t.Errorf("StepError origin: %+v", se)
	}
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Errorf("no *transport.ExitError with code 3 in %v", err)
	}
	// The command after the failure does not run.
	want := []string{"touch /ok", "sh -c true", "sh -c exit 3"}
	if got := f.commands(); !reflect.DeepEqual(got, want) {
		t.Errorf("commands run: %q; want %q", got, want)
	}
}

// TestApplyBusyboxAccounts checks the commands for busybox's account
// tools (Alpine), which the test images here do not have.
func TestApplyBusyboxAccounts(t *testing.T) {
	f := newFake("adduser", "addgroup", "passwd", "chpasswd")
	f.files["/etc/group"] = []byte("root:x:0:\nwheel:x:10:root\n")
	cfg := mustParse(t, "u.cfg", `
groups:
  - ops: [root]
users:
  - name: alice
    uid: 2000
    shell: /bin/ash
    groups: [wheel, audio]
    passwd: $6$secret$hash
  - name: svc
    system: true
    primary_group: wheel
    lock_passwd: false
`)
	if err := Apply(context.Background(), f, cfg, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"addgroup ops",
		"addgroup root ops",
		"addgroup audio",
		"adduser -D -s /bin/ash -u 2000 alice",
		"addgroup alice wheel",
		"addgroup alice audio",
		"chpasswd -e",
		"passwd -l alice",
		"adduser -D -S -H -G wheel svc",
	}
	if got := f.commands(); !reflect.DeepEqual(got, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range f.execs {
		if strings.Contains(strings.Join(e.args, " "), "secret") {
			t.Errorf("the password hash is in a command line: %q", e.args)
		}
		if e.args[0] == "chpasswd" && e.stdin != "alice:$6$secret$hash\n" {
			t.Errorf("chpasswd's input: %q", e.stdin)
		}
	}
}

func TestApplyShadowAccounts(t *testing.T) {
	f := newFake("useradd", "groupadd", "usermod", "chpasswd", "visudo")
	f.files["/etc/passwd"] = append(f.files["/etc/passwd"], "bob:x:1000:1000::/home/bob:/bin/sh\n"...)
	f.files["/etc/group"] = []byte("root:x:0:\nbob:x:1000:\nadm:x:4:\n")
	cfg := mustParse(t, "u.cfg", `
groups: {adm: [bob]}
users:
  - name: alice
    gecos: Alice
    homedir: /srv/alice
    primary_group: staff
    groups: adm
    uid: 1500
    sudo: ALL=(ALL) NOPASSWD:ALL
  - name: bob
    shell: /bin/false
    sudo: [ALL=(ALL) ALL]
`)
	if err := Apply(context.Background(), f, cfg, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"usermod --append --groups adm bob",
		"groupadd staff",
		"useradd --comment Alice --home-dir /srv/alice --gid staff --groups adm --uid 1500 --create-home alice",
		"usermod --lock alice",
		"visudo -c -q -f /etc/sudoers.d/.90-cloudconfig-alice.cloudconfig",
		"visudo -c -q -f /etc/sudoers.d/.90-cloudconfig-bob.cloudconfig",
	}
	if got := f.commands(); !reflect.DeepEqual(got, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := string(f.files[SudoersFile("bob")]); !strings.HasSuffix(got, "\nbob ALL=(ALL) ALL\n") || !strings.HasPrefix(got, "# ") {
		t.Errorf("bob's sudoers file: %q", got)
	}

	// A rule that visudo refuses leaves no file behind.
	f = newFake("useradd", "groupadd", "usermod", "visudo")
	f.files["/etc/passwd"] = append(f.files["/etc/passwd"], "bob:x:1000:1000::/home/bob:/bin/sh\n"...)
	f.handle = func(args []string, _ string) (string, int) {
		if args[0] == "visudo" {
			return "syntax error near line 2", 1
		}
		return "", 0
	}
	cfg = mustParse(t, "s.cfg", "users: [{name: bob, sudo: 'ALL=('}]\n")
	err := Apply(context.Background(), f, cfg, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "s.cfg: users[0]: sudo: exit status 1: syntax error near line 2") {
		t.Errorf("bad sudo rule: %v", err)
	}
	if _, ok := f.files[SudoersFile("bob")]; ok {
		t.Errorf("a refused sudoers file was installed")
	}
	if cmds := f.commands(); cmds[len(cmds)-1] != "rm -f /etc/sudoers.d/.90-cloudconfig-bob.cloudconfig" {
		t.Errorf("the refused file is not removed: %q", cmds)
	}
}

func TestApplyPackageManagers(t *testing.T) {
	cases := []struct {
		name, osRelease string
		tools           []string
		installed       string // what the installed check prints
		want            []string
	}{
		{"alpine", "ID=alpine\n", []string{"apk", "adduser", "addgroup", "passwd"}, "curl\n", []string{
			"sh -c for p; do if apk info -e \"$p\" >/dev/null 2>&1; then echo \"$p\"; fi; done; true",
			"(await route)",
			"apk update --no-progress",
			"apk add --no-progress git musl=1.2.4-r2",
		}},
		{"rocky", "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", []string{"dnf", "rpm", "useradd", "groupadd", "usermod"}, "curl\n", []string{
			"sh -c for p; do if rpm -q --quiet \"$p\" >/dev/null 2>&1; then echo \"$p\"; fi; done; true",
			"(await route)",
			"dnf -y makecache",
			"dnf -y install git musl-1.2.4-r2",
		}},
		{"old centos", "ID=centos\n", []string{"yum", "rpm"}, "curl\nmusl-1.2.4-r2\n", []string{
			"sh -c for p; do if rpm -q --quiet \"$p\" >/dev/null 2>&1; then echo \"$p\"; fi; done; true",
			"(await route)",
			"yum -y makecache",
			"yum -y install git",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(c.tools...)
			f.files["/etc/os-release"] = []byte(c.osRelease)
			f.handle = func(args []string, _ string) (string, int) {
				if args[0] == "/bin/sh" {
					return c.installed, 0
				}
				return "", 0
			}
			cfg := mustParse(t, "p.cfg", "package_update: true\npackages: [curl, git, [musl, 1.2.4-r2], curl]\n")
			if err := Apply(context.Background(), f, cfg, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range f.execs {
				if e.args[0] == "/bin/sh" && (strings.Contains(e.args[2], "command -v") || strings.Contains(e.args[2], "wc -c")) {
					continue
				}
				s := strings.Join(e.args, " ")
				switch {
				case e.args[0] == "/bin/sh" && e.args[2] == routeScript:
					s = "(await route)"
				case e.args[0] == "/bin/sh":
					s = "sh -c " + e.args[2]
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestApplyPackageErrors(t *testing.T) {
	// No os-release: no package manager, even with busybox's dpkg applet.
	f := newFake("dpkg", "rpm")
	cfg := mustParse(t, "p.cfg", "packages: [bash]\n")
	err := Apply(context.Background(), f, cfg, ApplyOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "p.cfg: packages[0]: no package manager known for this container (no /etc/os-release)") {
		t.Errorf("no os-release: %v", err)
	}
	f.files["/etc/os-release"] = []byte("ID=arch\n")
	cfg = mustParse(t, "p.cfg", "package_upgrade: true\n")
	err = Apply(context.Background(), f, cfg, ApplyOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), `p.cfg: package_upgrade: no package manager known for this container (os-release ID "arch")`) {
		t.Errorf("arch: %v", err)
	}

	// apt: what dpkg has is left alone; what apt cannot install is named.
	f = newFake("apt-get", "dpkg-query")
	f.files["/etc/os-release"] = []byte("ID=ubuntu\nID_LIKE=debian\n")
	f.handle = func(args []string, _ string) (string, int) {
		switch args[0] {
		case "dpkg-query":
			return "bash\tbash\tii \t5.2\n", 1
		case "apt-get":
			return "Reading package lists...\nE: Unable to locate package nope1\nE: Unable to locate package nope2\n", 100
		}
		return "", 0
	}
	cfg = mustParse(t, "p.cfg", "packages: [bash, nope1, [nope2, '1.0']]\n")
	err = Apply(context.Background(), f, cfg, ApplyOptions{})
	want := "p.cfg: packages[1]: packages nope1, nope2 version 1.0 are not installed and cannot be installed: exit status 100: " +
		"Reading package lists...; E: Unable to locate package nope1; E: Unable to locate package nope2 " +
		"(package_update: true refreshes the package lists first)"
	if err == nil || err.Error() != want {
		t.Errorf("err:\n%v\nwant:\n%s", err, want)
	}
	// The network is awaited before apt-get (awaitRoute), and only then,
	// polled 300 times (a count the shell reads: "300ns" once made it
	// give up at once).
	if got := f.commands(); len(got) != 3 || !strings.Contains(got[1], "/proc/net/route") || !strings.HasSuffix(got[2], "install nope1 nope2=1.0") {
		t.Errorf("commands: %q", got)
	}
	for _, e := range f.execs {
		if len(e.args) > 2 && e.args[2] == routeScript && (len(e.args) != 5 || e.args[4] != "300") {
			t.Errorf("route wait: %q, want its count 300", e.args[3:])
		}
	}
	// All installed: no apt-get at all.
	f.execs, f.events = nil, nil
	if err := Apply(context.Background(), f, mustParse(t, "p.cfg", "packages: [bash, [bash, '5.2']]\n"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.commands() {
		if strings.HasPrefix(c, "apt-get") {
			t.Errorf("apt-get ran for installed packages: %s", c)
		}
	}
}

func TestApplyWriteFilesOwner(t *testing.T) {
	f := newFake()
	cfg := mustParse(t, "w.cfg", `
users: [{name: web}]
write_files:
  - {path: /srv/index.html, content: hi, owner: 'web:web'}
`)
	err := Apply(context.Background(), f, cfg, ApplyOptions{})
	want := `w.cfg: write_files[0]: owner web:web: no user "web" (users are created after write_files, as in cloud-init: set defer: true)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	f.files["/etc/passwd"] = append(f.files["/etc/passwd"], "web:x:33:44::/var/www:/bin/sh\n"...)
	f.files["/etc/group"] = append(f.files["/etc/group"], "www:x:55:\n"...)
	cfg = mustParse(t, "w.cfg", `
write_files:
  - {path: /a, owner: web, permissions: '2750'}
  - {path: /b, owner: 'web:www', append: true, content: more}
  - {path: /c, owner: '7:8'}
`)
	if err := Apply(context.Background(), f, cfg, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range f.execs {
		if e.args[0] == "/bin/sh" && strings.Contains(e.args[2], `mv -f "$t" "$p"`) {
			got = append(got, strings.Join(e.args[5:], " "))
		}
		if e.args[0] == "/bin/sh" && strings.Contains(e.args[2], `cat >>"$1"`) {
			got = append(got, strings.Join(e.args[4:], " "))
		}
	}
	want2 := []string{"/a 33:0 2750", "/b / 33:55 0644", "/c 7:8 0644"}
	if !reflect.DeepEqual(got, want2) {
		t.Errorf("owner and mode: %q; want %q", got, want2)
	}
}

func TestApplyValidates(t *testing.T) {
	f := newFake()
	err := Apply(context.Background(), f, &Config{Runcmd: []Command{{Args: []string{"ls", "a\x00"}}}}, ApplyOptions{})
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Errorf("a NUL in argv: %v; want a *ParseError", err)
	}
	if len(f.execs) != 0 {
		t.Errorf("commands ran for an invalid config")
	}
}
