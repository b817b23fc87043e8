package sshconfig

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitConfigLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		key  string
		args []string
		bad  bool
	}{
		{"", "", nil, false},
		{"   # a comment", "", nil, false},
		{"HostName example.org", "hostname", []string{"example.org"}, false},
		{"\tPort=2222", "port", []string{"2222"}, false},
		{"Port = 2222", "port", []string{"2222"}, false},
		{`IdentityFile "~/my keys/id_ed25519"`, "identityfile", []string{"~/my keys/id_ed25519"}, false},
		{"Host a b,c", "host", []string{"a", "b,c"}, false},
		{"LocalCommand echo a=b", "localcommand", []string{"echo", "a=b"}, false},
		{`User "unterminated`, "", nil, true},
	} {
		key, args, err := splitConfigLine(tc.line)
		if (err != nil) != tc.bad || key != tc.key || !reflect.DeepEqual(args, tc.args) && len(args)+len(tc.args) > 0 {
			t.Errorf("%q: got %q %q %v; want %q %q (error: %v)", tc.line, key, args, err, tc.key, tc.args, tc.bad)
		}
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		s        string
		patterns string
		want     bool
	}{
		{"build1", "build1", true},
		{"build1", "build?", true},
		{"build12", "build?", false},
		{"build1.lan", "*.lan", true},
		{"build1.lan", "*.lan !build1.lan", false},
		{"build2.lan", "*.lan,!build1.lan", true},
		{"x", "!x", false},
		{"x", "!y", false}, // a negation alone matches nothing
		{"anything", "*", true},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*a*a*a*a*c", false},
	} {
		if got := matchPatternList(tc.s, strings.Fields(tc.patterns)); got != tc.want {
			t.Errorf("%q against %q: %v, want %v", tc.s, tc.patterns, got, tc.want)
		}
	}
}
