package cloudconfig

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func testDB(passwd, group, shadow, gshadow string) *etcDB {
	mk := func(path, text string, exists bool) *etcFile {
		f := &etcFile{path: path, exists: exists}
		if t := strings.TrimRight(text, "\n"); t != "" {
			f.lines = strings.Split(t, "\n")
		}
		return f
	}
	return &etcDB{
		passwd:  mk("/etc/passwd", passwd, true),
		group:   mk("/etc/group", group, true),
		shadow:  mk("/etc/shadow", shadow, shadow != ""),
		gshadow: mk("/etc/gshadow", gshadow, gshadow != ""),
	}
}

var day = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // day 20788

func TestAddUserRecordWithShadow(t *testing.T) {
	db := testDB(
		"root:x:0:0:root:/root:/bin/bash\nlxkit:x:1000:1000::/home/lxkit:/bin/sh\n",
		"root:x:0:\nlxkit:x:1000:\nwheel:x:10:root\n",
		"root:*:20000:0:99999:7:::\nlxkit:!:20000:0:99999:7:::\n",
		"root:*::\nlxkit:!::\nwheel:!::root\n")
	home, owner, err := addUserRecord(db, &User{Name: "alice", Gecos: "Alice", Groups: []string{"wheel"}, Shell: "/bin/bash"}, day)
	if err != nil {
		t.Fatal(err)
	}
	if home != "/home/alice" || owner != "1001:1001" {
		t.Errorf("home %q owner %q", home, owner)
	}
	want := map[*etcFile]string{
		db.passwd:  "root:x:0:0:root:/root:/bin/bash\nlxkit:x:1000:1000::/home/lxkit:/bin/sh\nalice:x:1001:1001:Alice:/home/alice:/bin/bash\n",
		db.group:   "root:x:0:\nlxkit:x:1000:\nwheel:x:10:root,alice\nalice:x:1001:\n",
		db.shadow:  "root:*:20000:0:99999:7:::\nlxkit:!:20000:0:99999:7:::\nalice:!:20788:0:99999:7:::\n",
		db.gshadow: "root:*::\nlxkit:!::\nwheel:!::root,alice\nalice:!::\n",
	}
	for f, w := range want {
		if got := string(f.bytes()); got != w || !f.changed {
			t.Errorf("%s (changed %v):\n%s\nwant:\n%s", f.path, f.changed, got, w)
		}
	}
	if err := setPasswordField(db, "alice", func(string) string { return "$6$h" }); err != nil {
		t.Fatal(err)
	}
	if err := setPasswordField(db, "alice", lockHash); err != nil {
		t.Fatal(err)
	}
	if err := setPasswordField(db, "alice", lockHash); err != nil { // locking twice is locking once
		t.Fatal(err)
	}
	if r := db.shadow.record("alice"); r[1] != "!$6$h" {
		t.Errorf("locked hash %q", r[1])
	}
	if r := db.userRecord("alice"); r[1] != "x" {
		t.Errorf("passwd field %q; the hash belongs in shadow", r[1])
	}
	if _, _, err := addUserRecord(db, &User{Name: "alice"}, day); err == nil {
		t.Errorf("adding alice twice succeeded")
	}
}

func TestAddUserRecordBusybox(t *testing.T) {
	// The test image: no shadow files, uid 1000 taken, gid 1001 taken.
	db := testDB("root:x:0:0:root:/root:/bin/sh\nlxkit:x:1000:1000:lxkit:/home/lxkit:/bin/sh\n",
		"root:x:0:\nlxkit:x:1000:\nother:x:1001:\n", "", "")
	_, owner, err := addUserRecord(db, &User{Name: "bob"}, day)
	if err != nil {
		t.Fatal(err)
	}
	if owner != "1001:1002" {
		t.Errorf("owner %q; want uid 1001 and, 1001 being taken, gid 1002", owner)
	}
	if got := strings.Join(db.userRecord("bob"), ":"); got != "bob:!:1001:1002::/home/bob:/bin/sh" {
		t.Errorf("bob: %s", got)
	}
	if db.shadow.changed || db.gshadow.changed {
		t.Errorf("missing shadow files were written")
	}
	// A system user with a named primary group and a fixed uid.
	_, owner, err = addUserRecord(db, &User{Name: "svc", System: true, PrimaryGroup: "other", Homedir: "/var/svc", UID: intp(500)}, day)
	if err != nil || owner != "500:1001" {
		t.Errorf("svc: %q, %v", owner, err)
	}
	if g := db.groupRecord("svc"); g != nil {
		t.Errorf("a user with a primary group got a group of its own: %q", g)
	}
	// A system user without: ids from 999 down.
	if _, owner, err = addUserRecord(db, &User{Name: "daemon2", System: true}, day); err != nil || owner != "999:999" {
		t.Errorf("daemon2: %q, %v", owner, err)
	}
	for _, bad := range []*User{
		{Name: "x", UID: intp(1000)},
		{Name: "y", PrimaryGroup: "nope"},
	} {
		if _, _, err := addUserRecord(db, bad, day); err == nil {
			t.Errorf("addUserRecord(%+v) succeeded", bad)
		}
	}
	// Without shadow, the password lives in /etc/passwd.
	if err := setPasswordField(db, "bob", func(string) string { return "$1$h" }); err != nil {
		t.Fatal(err)
	}
	if err := setPasswordField(db, "lxkit", lockHash); err != nil {
		t.Fatal(err)
	}
	if a, b := db.userRecord("bob")[1], db.userRecord("lxkit")[1]; a != "$1$h" || b != "!" {
		t.Errorf("password fields: bob %q, lxkit (was x, no shadow) %q", a, b)
	}
	if err := setPasswordField(db, "nobody", lockHash); err == nil {
		t.Errorf("locking a missing user succeeded")
	}
}

func TestGroupRecords(t *testing.T) {
	db := testDB("root:x:0:0::/root:/bin/sh\n", "root:x:0:\nsys:x:3:root\n", "", "sys:!::root\n")
	if err := addGroupRecord(db, "devs", false, -1); err != nil {
		t.Fatal(err)
	}
	if err := addGroupRecord(db, "sysg", true, -1); err != nil {
		t.Fatal(err)
	}
	if err := addGroupRecord(db, "devs", false, -1); err == nil {
		t.Errorf("adding devs twice succeeded")
	}
	for _, m := range []string{"root", "alice", "root"} {
		if err := addMemberRecord(db, "devs", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := addMemberRecord(db, "sys", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := addMemberRecord(db, "nope", "alice"); err == nil {
		t.Errorf("adding to a missing group succeeded")
	}
	if got, want := string(db.group.bytes()), "root:x:0:\nsys:x:3:root,alice\ndevs:x:1000:root,alice\nsysg:x:999:\n"; got != want {
		t.Errorf("group:\n%s\nwant:\n%s", got, want)
	}
	if got, want := string(db.gshadow.bytes()), "sys:!::root,alice\ndevs:!::root,alice\nsysg:!::\n"; got != want {
		t.Errorf("gshadow:\n%s\nwant:\n%s", got, want)
	}
	if !db.isMember("sys", "alice") || db.isMember("root", "alice") {
		t.Errorf("isMember")
	}
}

func TestFreeID(t *testing.T) {
	used := map[int]bool{1000: true, 1001: true, 999: true}
	for _, c := range []struct {
		system    bool
		want, got int
	}{
		{false, -1, 1002}, {true, -1, 998}, {false, 1500, 1500}, {false, 1000, 1002}, {true, 999, 998},
	} {
		if id, err := freeID(used, c.system, c.want); err != nil || id != c.got {
			t.Errorf("freeID(system %v, want %d) = %d, %v; want %d", c.system, c.want, id, err, c.got)
		}
	}
	full := map[int]bool{}
	for i := 100; i < 1000; i++ {
		full[i] = true
	}
	if _, err := freeID(full, true, -1); err == nil {
		t.Errorf("no error with every system id taken")
	}
}

func TestEtcHosts(t *testing.T) {
	cases := []struct{ in, names, want string }{
		{"", "h", "127.0.1.1\th\n"},
		{"127.0.0.1 localhost\n", "h.example h", "127.0.0.1 localhost\n127.0.1.1\th.example h\n"},
		{"127.0.0.1 localhost\n127.0.1.1 old\n::1 localhost\n127.0.1.1 older\n", "new", "127.0.0.1 localhost\n127.0.1.1\tnew\n::1 localhost\n"},
		{"# 127.0.1.1 comment\n127.0.0.1 localhost", "h", "# 127.0.1.1 comment\n127.0.0.1 localhost\n127.0.1.1\th\n"},
	}
	for _, c := range cases {
		if got := string(etcHosts([]byte(c.in), c.names)); got != c.want {
			t.Errorf("etcHosts(%q, %q) = %q; want %q", c.in, c.names, got, c.want)
		}
	}
}

func TestMergeKeys(t *testing.T) {
	got, changed := mergeKeys([]byte("ssh-rsa A a@x\nssh-ed25519 B b@x"), []string{"ssh-ed25519 B b@x", " ssh-ed25519 C c@x ", "ssh-ed25519 C c@x"})
	if want := "ssh-rsa A a@x\nssh-ed25519 B b@x\nssh-ed25519 C c@x\n"; string(got) != want || !changed {
		t.Errorf("mergeKeys = %q, %v; want %q", got, changed, want)
	}
	if _, changed := mergeKeys(got, []string{"ssh-rsa A a@x"}); changed {
		t.Errorf("a key already there changed the file")
	}
	if got, _ := mergeKeys(nil, []string{"k"}); string(got) != "k\n" {
		t.Errorf("new file: %q", got)
	}
}

func TestDpkgFilter(t *testing.T) {
	out := "bash\tbash\tii \t5.2.15-2+b2\n" +
		"libc6:amd64\tlibc6\tii \t2.36-9\n" +
		"vim\tvim\trc \t2:9.0\n" +
		"half\thalf\tiU \t1.0\n"
	pkgs := []Package{
		{Name: "bash"}, {Name: "bash", Version: "5.2.15-2+b2"}, {Name: "bash", Version: "4.0"},
		{Name: "libc6"}, {Name: "libc6:amd64"}, {Name: "vim"}, {Name: "half"}, {Name: "nope"},
	}
	var missing []string
	for _, p := range dpkgFilter(pkgs, out) {
		missing = append(missing, p.Name+"="+p.Version)
	}
	if want := []string{"bash=4.0", "vim=", "half=", "nope="}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing %q; want %q", missing, want)
	}
}

func TestHostNames(t *testing.T) {
	for _, c := range []struct{ hostname, fqdn, host, full string }{
		{"web", "", "web", ""},
		{"web.example.org", "", "web", "web.example.org"},
		{"", "db.example.org", "db", "db.example.org"},
		{"alias", "db.example.org", "alias", "db.example.org"},
	} {
		if h, f := hostNames(c.hostname, c.fqdn); h != c.host || f != c.full {
			t.Errorf("hostNames(%q, %q) = %q, %q; want %q, %q", c.hostname, c.fqdn, h, f, c.host, c.full)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	got := parseOSRelease("NAME=\"Debian GNU/Linux\"\nID=debian\n# ID=comment\nID_LIKE='rhel fedora'\nQ=\"a \\\"b\\\" \\$c\"\nbroken\n")
	want := map[string]string{"NAME": "Debian GNU/Linux", "ID": "debian", "ID_LIKE": "rhel fedora", "Q": `a "b" $c`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseOSRelease = %q", got)
	}
	s := &System{ID: "linuxmint", IDLike: []string{"ubuntu", "debian"}, Tools: []string{"apt-get", "dpkg-query"}}
	if pm := packageManager(s); pm != "apt" {
		t.Errorf("Mint: %q", pm)
	}
	s = &System{ID: "debian", Tools: []string{"dpkg", "rpm"}} // busybox applets only
	if pm := packageManager(s); pm != "" {
		t.Errorf("debian without apt-get: %q", pm)
	}
}

func TestLastLines(t *testing.T) {
	if got := lastLines([]byte("a\n\n b \nc\nd\n\n"), 3); got != "b; c; d" {
		t.Errorf("lastLines = %q", got)
	}
	if got := lastLines([]byte(strings.Repeat("x", 700)), 3); len(got) != 600 || !strings.HasPrefix(got, "...") {
		t.Errorf("long line: %d bytes", len(got))
	}
}
