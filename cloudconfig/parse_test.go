package cloudconfig

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

// stripOrigins clears every Origin, so that tests can compare values.
func stripOrigins(c *Config) *Config {
	out := *c
	out.Origins = nil
	out.WriteFiles = append([]File(nil), c.WriteFiles...)
	for i := range out.WriteFiles {
		out.WriteFiles[i].Origin = Origin{}
	}
	out.Groups = append([]Group(nil), c.Groups...)
	for i := range out.Groups {
		out.Groups[i].Origin = Origin{}
	}
	out.Users = append([]User(nil), c.Users...)
	for i := range out.Users {
		out.Users[i].Origin = Origin{}
	}
	out.Packages = append([]Package(nil), c.Packages...)
	for i := range out.Packages {
		out.Packages[i].Origin = Origin{}
	}
	out.Runcmd = append([]Command(nil), c.Runcmd...)
	for i := range out.Runcmd {
		out.Runcmd[i].Origin = Origin{}
	}
	return &out
}

func mode(m fs.FileMode) *fs.FileMode { return &m }
func intp(v int) *int                 { return &v }
func boolp(v bool) *bool              { return &v }

func gzipB64(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, in string
		want     Config
	}{
		{"empty", "", Config{}},
		{"header with CRLF and spaces", "#cloud-config \r\nhostname: h\r\n", Config{Hostname: "h"}},
		{"null document", "~\n", Config{}},
		{"write_files text", `
write_files:
  - path: /etc/motd
    content: |
      hello
  - path: /root/empty
`, Config{WriteFiles: []File{{Path: "/etc/motd", Content: []byte("hello\n")}, {Path: "/root/empty", Content: []byte{}}}}},
		{"write_files encodings, permissions, owner, append, defer", `
write_files:
  - path: /a
    encoding: b64
    content: aGVsbG8=
    permissions: '0600'
    owner: root:root
  - path: /b
    encoding: base64
    content: |
      aGVs
      bG8
    permissions: 0640
    append: true
  - path: /c
    encoding: gzip+base64
    content: ` + gzipB64("zipped") + `
    permissions: "4755"
    owner: www-data
    defer: yes
  - path: /d
    encoding: gz
    content: !!binary ` + gzipB64("binary gz") + `
    permissions: 0o1777
  - path: /e
    content: !!binary aGk=
    encoding: text/plain
`, Config{WriteFiles: []File{
			{Path: "/a", Content: []byte("hello"), Permissions: mode(0o600), Owner: "root:root"},
			{Path: "/b", Content: []byte("hello"), Permissions: mode(0o640), Append: true},
			{Path: "/c", Content: []byte("zipped"), Permissions: mode(fs.ModeSetuid | 0o755), Owner: "www-data", Defer: true},
			{Path: "/d", Content: []byte("binary gz"), Permissions: mode(fs.ModeSticky | 0o777)},
			{Path: "/e", Content: []byte("hi")},
		}}},
		{"runcmd both forms", `
runcmd:
  - echo "$HOME" > /tmp/x
  - [touch, "/tmp/a b", 5, true]
  - - ls
    - -l
`, Config{Runcmd: []Command{
			{Shell: `echo "$HOME" > /tmp/x`},
			{Args: []string{"touch", "/tmp/a b", "5", "true"}},
			{Args: []string{"ls", "-l"}},
		}}},
		{"packages", `
package_update: true
package_upgrade: false
packages:
  - nginx
  - [libc6, 2.36-9]
  - [curl]
`, Config{PackageUpdate: true, Packages: []Package{{Name: "nginx"}, {Name: "libc6", Version: "2.36-9"}, {Name: "curl"}}}},
		{"users", `
users:
  - name: alice
    gecos: Alice A
    homedir: /srv/alice
    primary_group: staff
    groups: [adm, wheel]
    shell: /bin/bash
    uid: 2001
    lock_passwd: false
    passwd: $6$salt$hash
    ssh_authorized_keys:
      - ssh-ed25519 AAAA alice@laptop
    sudo: ALL=(ALL) NOPASSWD:ALL
  - name: svc
    system: true
    no-create-home: true
    uid: "999"
    groups: adm, users
    sudo: ["ALL=(root) /bin/true", "ALL=(ALL) /bin/false"]
    hashed_passwd: "*"
  - bob
  - name: carol
    sudo: false
`, Config{Users: []User{
			{Name: "alice", Gecos: "Alice A", Homedir: "/srv/alice", PrimaryGroup: "staff", Groups: []string{"adm", "wheel"},
				Shell: "/bin/bash", UID: intp(2001), LockPasswd: boolp(false), Passwd: "$6$salt$hash",
				SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA alice@laptop"}, Sudo: []string{"ALL=(ALL) NOPASSWD:ALL"}},
			{Name: "svc", System: true, NoCreateHome: true, UID: intp(999), Groups: []string{"adm", "users"},
				Sudo: []string{"ALL=(root) /bin/true", "ALL=(ALL) /bin/false"}, Passwd: "*"},
			{Name: "bob"},
			{Name: "carol"},
		}}},
		{"groups as a list", `
groups:
  - admins: [root, sys]
  - cloud-users
  - ops: alice, bob
    devs: ~
`, Config{Groups: []Group{{Name: "admins", Members: []string{"root", "sys"}}, {Name: "cloud-users"},
			{Name: "ops", Members: []string{"alice", "bob"}}, {Name: "devs"}}}},
		{"groups as a map", "groups: {b: [x], a: ~}\n", Config{Groups: []Group{{Name: "b", Members: []string{"x"}}, {Name: "a"}}}},
		{"groups as a string", "groups: 'a, b'\n", Config{Groups: []Group{{Name: "a"}, {Name: "b"}}}},
		{"host and time", `
hostname: web1
fqdn: web1.example.org
preserve_hostname: off
manage_etc_hosts: true
timezone: America/Argentina/Buenos_Aires
`, Config{Hostname: "web1", FQDN: "web1.example.org", ManageEtcHosts: true, Timezone: "America/Argentina/Buenos_Aires"}},
		{"null values are unset", "hostname: ~\nruncmd:\npackages: []\nusers: ~\n", Config{}},
		{"anchors and merge keys", `
write_files:
  - &base {path: /a, content: shared, permissions: '0600'}
  - {<<: *base, path: /b}
  - <<: [*base]
    path: /c
    permissions: '0644'
runcmd: [&cmd [echo, hi], *cmd]
`, Config{WriteFiles: []File{
			{Path: "/a", Content: []byte("shared"), Permissions: mode(0o600)},
			{Path: "/b", Content: []byte("shared"), Permissions: mode(0o600)},
			{Path: "/c", Content: []byte("shared"), Permissions: mode(0o644)},
		}, Runcmd: []Command{{Args: []string{"echo", "hi"}}, {Args: []string{"echo", "hi"}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			if !strings.HasPrefix(in, Header) {
				in = Header + "\n" + strings.TrimPrefix(in, "\n")
			}
			got, err := Parse("t.cfg", []byte(in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if g := stripOrigins(got); !reflect.DeepEqual(normalize(g), normalize(&c.want)) {
				t.Errorf("got  %#v\nwant %#v", g, &c.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate of a parsed config: %v", err)
			}
		})
	}
}

// normalize makes empty and nil slices compare equal.
func normalize(c *Config) *Config {
	out := *c
	if len(out.WriteFiles) == 0 {
		out.WriteFiles = nil
	}
	for i := range out.WriteFiles {
		if len(out.WriteFiles[i].Content) == 0 {
			out.WriteFiles[i].Content = nil
		}
	}
	if len(out.Groups) == 0 {
		out.Groups = nil
	}
	for i := range out.Groups {
		if len(out.Groups[i].Members) == 0 {
			out.Groups[i].Members = nil
		}
	}
	if len(out.Users) == 0 {
		out.Users = nil
	}
	if len(out.Packages) == 0 {
		out.Packages = nil
	}
	if len(out.Runcmd) == 0 {
		out.Runcmd = nil
	}
	return &out
}

func TestParseOrigins(t *testing.T) {
	in := `#cloud-config
timezone: UTC
runcmd:
  - true
  - [false]
write_files:
  - path: /x
users:
  - name: u
`
	c, err := Parse("web.cfg", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Origin{
		"timezone":  {File: "web.cfg", Line: 2, Column: 1, Path: "timezone"},
		"runcmd[0]": c.Runcmd[0].Origin,
		"runcmd[1]": c.Runcmd[1].Origin,
	}
	if c.Origins["timezone"] != want["timezone"] {
		t.Errorf("timezone origin %+v", c.Origins["timezone"])
	}
	for _, x := range []struct {
		got        Origin
		line, col  int
		path, text string
	}{
		{c.Runcmd[0].Origin, 4, 5, "runcmd[0]", "web.cfg: runcmd[0]"},
		{c.Runcmd[1].Origin, 5, 5, "runcmd[1]", "web.cfg: runcmd[1]"},
		{c.WriteFiles[0].Origin, 7, 5, "write_files[0]", "web.cfg: write_files[0]"},
		{c.Users[0].Origin, 9, 5, "users[0]", "web.cfg: users[0]"},
	} {
		if x.got.File != "web.cfg" || x.got.Line != x.line || x.got.Column != x.col || x.got.Path != x.path || x.got.String() != x.text {
			t.Errorf("origin %+v (%q); want line %d col %d path %s", x.got, x.got, x.line, x.col, x.path)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		// The header.
		{"", `web.cfg:1: not a cloud-config file: the first line must be "#cloud-config"`},
		{"hostname: x\n", `web.cfg:1: not a cloud-config file`},
		{"# cloud-config\n", `web.cfg:1: not a cloud-config file`},
		{"#cloud-configx\n", `not a cloud-config file`},
		{"#cloud-config-archive\n", `#cloud-config-archive files are not supported`},
		{"## template: jinja\n#cloud-config\n", `templates are not supported`},
		{"#!/bin/sh\necho hi\n", `this is a script`},
		// YAML itself.
		{"#cloud-config\nruncmd: [\n", `web.cfg:2: did not find expected node content`},
		{"#cloud-config\nhostname: a\n---\nhostname: b\n", `web.cfg:3: a second YAML document`},
		{"#cloud-config\n- a\n", `web.cfg:2:1: want a map, got a list`},
		{"#cloud-config\nhostname: a\nhostname: b\n", `web.cfg:3:1: key "hostname" given twice`},
		{"#cloud-config\nruncmd: [*nope]\n", `web.cfg: unknown anchor 'nope' referenced`},
		// Modules.
		{"#cloud-config\nruncmds: [ls]\n", `web.cfg:2:1: unknown module "runcmds" (did you mean "runcmd"?)`},
		{"#cloud-config\nfoo: 1\n", `web.cfg:2:1: unknown module "foo"`},
		{"#cloud-config\n\n\nbootcmd: [ls]\n", `web.cfg:4:1: module "bootcmd" is not supported: it runs at every boot`},
		{"#cloud-config\napt: {}\n", `module "apt" is not supported`},
		{"#cloud-config\nmerge_how: x\n", `cloud-init's merge directives are not supported`},
		{"#cloud-config\nssh_authorized_keys: [k]\n", `default user's keys`},
		{"#cloud-config\n[a]: b\n", `web.cfg:2:1: a map key must be a string, got a list`},
		// write_files.
		{"#cloud-config\nwrite_files:\n  - path: /etc/x\n    contnet: hi\n", `web.cfg:4:5: write_files[0]: unknown key "contnet" (did you mean "content"?)`},
		{"#cloud-config\nwrite_files:\n  - content: hi\n", `web.cfg:3:5: write_files[0]: path is missing`},
		{"#cloud-config\nwrite_files:\n  - path: etc/x\n", `web.cfg:3:11: write_files[0].path: path "etc/x" is not an absolute file path`},
		{"#cloud-config\nwrite_files:\n  - path: /etc/\n", `not an absolute file path`},
		{"#cloud-config\nwrite_files:\n  - path: [/a]\n", `web.cfg:3:11: write_files[0].path: want a string, got a list`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    permissions: '0844'\n", `web.cfg:4:18: write_files[0].permissions: want an octal mode such as "0644", got "0844"`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    permissions: 17777\n", `want an octal mode`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    append: maybe\n", `web.cfg:4:13: write_files[0].append: want true or false, got "maybe"`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    defer: 'true'\n", `want true or false, got "true"`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    encoding: rot13\n", `web.cfg:4:15: write_files[0].encoding: unknown encoding "rot13"`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    encoding: b64\n    content: '!!!'\n", `web.cfg:5:14: write_files[0].content: b64 content: not valid base64`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    encoding: gzip\n    content: plain\n", `gzip content: not gzip data`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    source: {uri: 'http://x'}\n", `key "source" is not supported: fetching a URL`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    owner: 'a b'\n", `write_files[0].owner: owner's user "a b" is not a valid account name`},
		{"#cloud-config\nwrite_files:\n  - path: /a\n    owner: 'a:'\n", `owner's group "" is not a valid account name`},
		{"#cloud-config\nwrite_files: [/a]\n", `web.cfg:2:15: write_files[0]: want a map with path and content, got "/a"`},
		{"#cloud-config\nwrite_files: {path: /a}\n", `web.cfg:2:14: write_files: want a list, got a map`},
		// runcmd.
		{"#cloud-config\nruncmd:\n  - ls\n  - {a: b}\n", `web.cfg:4:5: runcmd[1]: want a command string or a list of arguments, got a map`},
		{"#cloud-config\nruncmd: [[]]\n", `runcmd[0]: empty command`},
		{"#cloud-config\nruncmd: [['']]\n", `runcmd[0]: empty program name`},
		{"#cloud-config\nruncmd: [[ls, [x]]]\n", `runcmd[0][1]: want a string, got a list`},
		{"#cloud-config\nruncmd: [\"a\\0b\"]\n", `NUL`},
		{"#cloud-config\nruncmd: ls\n", `runcmd: want a list, got "ls"`},
		// packages.
		{"#cloud-config\npackages: [{apt: [x]}]\n", `packages[0]: want a package name or [name, version], got a map (the {apt: [...], snap: [...]} form is not supported)`},
		{"#cloud-config\npackages: [[a, b, c]]\n", `want [name] or [name, version], got 3 items`},
		{"#cloud-config\npackages: ['-rf']\n", `"-rf" is not a package name`},
		{"#cloud-config\npackages: ['a b']\n", `is not a package name`},
		{"#cloud-config\npackages: [[a, 'x y']]\n", `"x y" is not a package version`},
		{"#cloud-config\npackage_update: 1\n", `web.cfg:2:17: package_update: want true or false, got "1"`},
		{"#cloud-config\napt_update: true\n", `write package_update`},
		// users and groups.
		{"#cloud-config\nusers: [default]\n", `web.cfg:2:9: users[0]: the distribution's default user is not supported`},
		{"#cloud-config\nusers:\n  - gecos: x\n", `web.cfg:3:5: users[0]: name is missing`},
		{"#cloud-config\nusers:\n  - name: a\n    home: /x\n", `web.cfg:4:5: users[0]: user key "home" is not supported: write homedir`},
		{"#cloud-config\nusers:\n  - name: a\n    shel: /bin/sh\n", `unknown user key "shel" (did you mean "shell"?)`},
		{"#cloud-config\nusers:\n  - name: a\n    plain_text_passwd: x\n", `give a hash in passwd`},
		{"#cloud-config\nusers:\n  - name: a\n    plain-text-passwd: x\n", `give a hash in passwd`},
		{"#cloud-config\nusers:\n  - name: a\n    passwd: x\n    hashed_passwd: y\n", `web.cfg:5:5: users[0]: passwd is given twice`},
		{"#cloud-config\nusers:\n  - name: a\n    lock_passwd: true\n    lock-passwd: false\n", `web.cfg:5:5: users[0]: lock_passwd is given twice`},
		{"#cloud-config\nusers:\n  - name: a\n    uid: -1\n", `web.cfg:4:10: users[0].uid: want a number from 0 to 4294967294, got "-1"`},
		{"#cloud-config\nusers:\n  - name: a\n    uid: abc\n", `want a number`},
		{"#cloud-config\nusers:\n  - name: a\n    sudo: true\n", `web.cfg:4:11: users[0].sudo: true is not a sudo rule`},
		{"#cloud-config\nusers:\n  - name: a\n    sudo: \"x\\ny\"\n", `sudo rule contains a control character`},
		{"#cloud-config\nusers:\n  - name: a\n    shell: bash\n", `users[0].shell: shell "bash" is not an absolute path`},
		{"#cloud-config\nusers:\n  - name: a\n    gecos: 'a:b'\n", `gecos "a:b" contains ':'`},
		{"#cloud-config\nusers:\n  - name: a\n    passwd: \"x\\n\"\n", `passwd contains a control character`},
		{"#cloud-config\nusers:\n  - name: 'a:b'\n", `user name "a:b" is not a valid account name`},
		{"#cloud-config\nusers:\n  - name: '-a'\n", `is not a valid account name`},
		{"#cloud-config\nusers:\n  - name: '1000'\n", `user name "1000" is a number`},
		{"#cloud-config\nusers:\n  - name: a\n    groups: [ok, 'b c']\n", `group "b c" is not a valid account name`},
		{"#cloud-config\nusers:\n  - name: a\n    ssh_authorized_keys: {k: v}\n", `ssh_authorized_keys: want a list, got a map`},
		{"#cloud-config\nusers: alice\n", `users: want a list, got "alice"`},
		{"#cloud-config\ngroups: [[a]]\n", `groups[0]: want a string, got a list`},
		{"#cloud-config\ngroups: {'a b': [x]}\n", `group name "a b" is not a valid account name`},
		{"#cloud-config\ngroups: {a: {x: y}}\n", `groups[0].members: want a list, got a map`},
		// Host and time.
		{"#cloud-config\nhostname: -bad\n", `web.cfg:2:11: hostname: "-bad" is not a valid host name`},
		{"#cloud-config\nhostname: a_b\n", `not a valid host name`},
		{"#cloud-config\nhostname: h\nfqdn: f\n", `web.cfg:3:1: fqdn: fqdn "f" has no domain`},
		{"#cloud-config\nmanage_etc_hosts: localhost\n", `"localhost" is not supported: only true and false`},
		{"#cloud-config\ntimezone: ../../etc/passwd\n", `web.cfg:2:11: timezone: "../../etc/passwd" is not a time zone name`},
		{"#cloud-config\ntimezone: [UTC]\n", `timezone: want a string, got a list`},
	}
	for _, c := range cases {
		cfg, err := Parse("web.cfg", []byte(c.in))
		if err == nil {
			t.Errorf("Parse(%q) = %+v; want an error with %q", c.in, cfg, c.want)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q): %T %v; want a *ParseError", c.in, err, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q):\n got %v\nwant %s", c.in, err, c.want)
		}
	}
}

func TestParseHeaderIsClass(t *testing.T) {
	_, err := Parse("x", []byte("#!/bin/sh\n"))
	if !errors.Is(err, ErrNotCloudConfig) {
		t.Errorf("%v does not match ErrNotCloudConfig", err)
	}
	if _, err := Parse("x", []byte("#cloud-config\nruncmds: []\n")); errors.Is(err, ErrNotCloudConfig) {
		t.Errorf("an unknown module matches ErrNotCloudConfig: %v", err)
	}
}

func TestParseLimits(t *testing.T) {
	// A billion laughs: one list of 1,000 members, aliased by 200 groups,
	// is 200,000 values to visit.
	bomb := "#cloud-config\ngroups:\n  - g0: &m [" + strings.Repeat("m,", 999) + "m]\n"
	for i := 1; i < 200; i++ {
		bomb += fmt.Sprintf("  - g%d: *m\n", i)
	}
	_, err := Parse("bomb.cfg", []byte(bomb))
	if err == nil || !strings.Contains(err.Error(), "more than 100000 YAML values") {
		t.Errorf("alias expansion: %v", err)
	}
	// 90 of them are fewer than the limit, and each group gets them all.
	lines := strings.SplitAfter(bomb, "\n")
	c, err := Parse("ok.cfg", []byte(strings.Join(lines[:2+90], "")))
	if err != nil || len(c.Groups) != 90 || len(c.Groups[89].Members) != 1000 {
		t.Errorf("90 aliased groups: %v", err)
	}
	// A gzip bomb.
	var in string
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(make([]byte, MaxContent+1))
	zw.Close()
	in = "#cloud-config\nwrite_files:\n  - path: /x\n    encoding: gz+b64\n    content: " + base64.StdEncoding.EncodeToString(z.Bytes()) + "\n"
	if _, err := Parse("zip.cfg", []byte(in)); err == nil || !strings.Contains(err.Error(), "zip.cfg:5:14: write_files[0].content: more than 16 MiB of write_files content") {
		t.Errorf("gzip bomb: %v", err)
	}
	// Aliases of one content count each time.
	half := base64.StdEncoding.EncodeToString(make([]byte, MaxContent/2-1))
	in = "#cloud-config\nwrite_files:\n  - {path: /a, encoding: b64, content: &c " + half + "}\n  - {path: /b, encoding: b64, content: *c}\n  - {path: /c, encoding: b64, content: *c}\n"
	if _, err := Parse("alias.cfg", []byte(in)); err == nil || !strings.Contains(err.Error(), "alias.cfg:5:") || !strings.Contains(err.Error(), "more than 16 MiB") {
		t.Errorf("aliased contents: %v", err)
	}
	if c, err := Parse("alias.cfg", []byte(strings.Join(strings.SplitAfter(in, "\n")[:4], ""))); err != nil || len(c.WriteFiles) != 2 {
		t.Errorf("two aliased contents within the limit: %v", err)
	}
}

func TestMerge(t *testing.T) {
	a, err := Parse("a.cfg", []byte("#cloud-config\nhostname: a\npackage_update: true\ntimezone: UTC\nruncmd: [one]\npackages: [x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.cfg", []byte("#cloud-config\nhostname: b\npackage_update: false\nruncmd: [two, three]\nwrite_files: [{path: /f}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(a, nil, b)
	if m.Hostname != "b" || m.Timezone != "UTC" || m.PackageUpdate {
		t.Errorf("scalars: hostname %q timezone %q package_update %v; want b, UTC, false (b's false wins)", m.Hostname, m.Timezone, m.PackageUpdate)
	}
	var cmds []string
	for _, c := range m.Runcmd {
		cmds = append(cmds, c.Origin.File+":"+c.Shell+":"+c.Origin.Path)
	}
	if got := strings.Join(cmds, " "); got != "a.cfg:one:runcmd[0] b.cfg:two:runcmd[0] b.cfg:three:runcmd[1]" {
		t.Errorf("runcmd merged as %s", got)
	}
	if len(m.Packages) != 1 || len(m.WriteFiles) != 1 {
		t.Errorf("lists: %d packages, %d files", len(m.Packages), len(m.WriteFiles))
	}
	if m.Origins["hostname"].File != "b.cfg" || m.Origins["timezone"].File != "a.cfg" || m.Origins["package_update"].File != "b.cfg" {
		t.Errorf("origins: %+v", m.Origins)
	}
	// The inputs are untouched.
	if a.Hostname != "a" || len(a.Runcmd) != 1 || a.Origins["hostname"].File != "a.cfg" {
		t.Errorf("Merge changed its input: %+v", a)
	}
	m.Runcmd[0].Shell = "changed"
	if a.Runcmd[0].Shell != "one" {
		t.Errorf("Merge's lists share their backing arrays with the inputs")
	}
	// Hand-built configs without Origins: a zero value is "not set".
	h := Merge(&Config{Hostname: "h", PackageUpdate: true}, &Config{Timezone: "UTC"})
	if h.Hostname != "h" || !h.PackageUpdate || h.Timezone != "UTC" {
		t.Errorf("hand-built merge: %+v", h)
	}
	if h := Merge(); h == nil || h.Hostname != "" {
		t.Errorf("Merge() = %+v", h)
	}
}

func TestValidate(t *testing.T) {
	bad := []struct {
		cfg  Config
		want string
	}{
		{Config{WriteFiles: []File{{Path: "rel", Origin: Origin{File: "f", Path: "write_files[0]"}}}}, `f: write_files[0]: path "rel" is not an absolute file path`},
		{Config{WriteFiles: []File{{Path: "/x", Permissions: mode(fs.ModeDir | 0o755)}}}, `not a file's permission bits`},
		{Config{Users: []User{{}}}, `user name "" is not a valid account name`},
		{Config{Users: []User{{Name: "a", UID: intp(-2)}}}, `uid -2 is out of range`},
		{Config{Users: []User{{Name: "a", SSHAuthorizedKeys: []string{" "}}}}, `ssh_authorized_keys entry is empty`},
		{Config{Users: []User{{Name: "a", Homedir: "home"}}}, `homedir "home" is not an absolute path`},
		{Config{Groups: []Group{{Name: "g", Members: []string{"a\n"}}}}, `member "a\n" is not a valid account name`},
		{Config{Packages: []Package{{Name: ""}}}, `"" is not a package name`},
		{Config{Runcmd: []Command{{}}}, `empty command`},
		{Config{Hostname: "a..b"}, `hostname: "a..b" is not a valid host name`},
		{Config{FQDN: "x_"}, `fqdn: "x_" is not a valid host name`},
		{Config{Timezone: "/etc/passwd", Origins: map[string]Origin{"timezone": {File: "t.cfg", Line: 3, Column: 11, Path: "timezone"}}}, `t.cfg:3:11: timezone: "/etc/passwd"`},
	}
	for _, c := range bad {
		err := c.cfg.Validate()
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v; want a *ParseError with %q", c.cfg, err, c.want)
		}
	}
	if err := (&Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

// FuzzParse checks that Parse never panics, that its errors are
// *ParseErrors naming the file, and that what it accepts, Validate (and
// so Apply) accepts too, and merges into itself.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"#cloud-config\n",
		"#cloud-config\nwrite_files:\n  - path: /a\n    encoding: gz+b64\n    content: " + gzipB64("x") + "\n    permissions: '4755'\n    owner: a:b\n",
		"#cloud-config\nruncmd: [ls, [echo, hi], &x [a], *x]\n",
		"#cloud-config\nusers: [{name: a, groups: 'x, y', sudo: [r], uid: 5, lock-passwd: no}, b]\ngroups: {g: [a]}\n",
		"#cloud-config\npackages: [a, [b, '1.0']]\npackage_update: yes\n",
		"#cloud-config\nhostname: h.example\nfqdn: h.example\nmanage_etc_hosts: true\ntimezone: Etc/UTC\n",
		"#cloud-config\nw: &b {path: /x}\n",
		"#cloud-config\nwrite_files: [{<<: [{path: /x}, {content: y}], append: on}]\n",
		"#cloud-config\nruncmd: !!binary aGk=\n",
		"#cloud-config\n? [a]\n: b\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.cfg", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Origin.File != "fuzz.cfg" {
				t.Fatalf("error %T %v is not a *ParseError naming the file", err, err)
			}
			if lines := bytes.Count(data, []byte("\n")) + 1; pe.Origin.Line > lines+1 {
				t.Fatalf("error at line %d of a %d-line file: %v", pe.Origin.Line, lines, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		m := Merge(cfg, cfg)
		if len(m.Runcmd) != 2*len(cfg.Runcmd) || len(m.Users) != 2*len(cfg.Users) || len(m.WriteFiles) != 2*len(cfg.WriteFiles) {
			t.Fatalf("Merge(c, c) did not double the lists")
		}
		if m.Hostname != cfg.Hostname || m.PackageUpdate != cfg.PackageUpdate || m.Timezone != cfg.Timezone {
			t.Fatalf("Merge(c, c) changed a scalar")
		}
	})
}
