package shquote

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

var quoteTests = []struct{ in, want string }{
	{"", "''"},
	{"abc", "abc"},
	{"a-b_c@d%e+f=g:h,i./j", "a-b_c@d%e+f=g:h,i./j"},
	{"-rf", "-rf"},
	{"--", "--"},
	{"a b", "'a b'"},
	{"'", `''\'''`},
	{"it's", `'it'\''s'`},
	{"''", `''\'''\'''`},
	{`"x"`, `'"x"'`},
	{"$HOME", "'$HOME'"},
	{"${x:-y}", "'${x:-y}'"},
	{"$(id)", "'$(id)'"},
	{"`id`", "'`id`'"},
	{"*", "'*'"},
	{"a?b", "'a?b'"},
	{"[ab]", "'[ab]'"},
	{"a\nb", "'a\nb'"},
	{"a\tb", "'a\tb'"},
	{`a\b`, `'a\b'`},
	{`\`, `'\'`},
	{"héllo ✓", "'héllo ✓'"},
	{"a;b|c&d<e>f", "'a;b|c&d<e>f'"},
	{"(){}", "'(){}'"},
	{"~", "'~'"},
	{"~root", "'~root'"},
	{"#", "'#'"},
	{"a#b", "'a#b'"},
	{"!", "'!'"},
	{"\xff\xfe", "'\xff\xfe'"},
	{"\r", "'\r'"},
}

func TestQuote(t *testing.T) {
	for _, tt := range quoteTests {
		got, err := Quote(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, s := range []string{"\x00", "a\x00b", "x\x00"} {
		if _, err := Quote(s); !errors.Is(err, ErrNUL) {
			t.Errorf("Quote(%q) error = %v; want ErrNUL", s, err)
		}
	}
}

func TestJoin(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"lxc", "exec", "c1", "--", "echo", "a b", ""}, "lxc exec c1 -- echo 'a b' ''"},
		{[]string{"a=b", "c=d"}, "'a=b' c=d"},
		{[]string{"time", "if"}, "'time' if"},
	} {
		got, err := Join(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Join(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	_, err := Join([]string{"ok", "b\x00d"})
	if !errors.Is(err, ErrNUL) || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("Join with NUL: error = %v", err)
	}
}

func TestCheckJSON(t *testing.T) {
	if err := CheckJSON([]string{"a", "", "héllo", "$x"}); err != nil {
		t.Errorf("valid argv: %v", err)
	}
	err := CheckJSON([]string{"a", "b", "\xff"})
	if !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "argument 2") {
		t.Errorf("invalid UTF-8: error = %v", err)
	}
	err = CheckJSON([]string{"a\x00"})
	if !errors.Is(err, ErrNUL) || !strings.Contains(err.Error(), "argument 0") {
		t.Errorf("NUL: error = %v", err)
	}
}

// shells lists the available shells as argv prefixes.
func shells(t testing.TB) [][]string {
	var out [][]string
	for _, sh := range [][]string{{"/bin/sh"}, {"/bin/bash"}, {"/bin/busybox", "sh"}} {
		if _, err := os.Stat(sh[0]); err == nil {
			out = append(out, sh)
		}
	}
	if len(out) == 0 {
		t.Skip("no shell available")
	}
	return out
}

// run executes script with `shell -c` and returns its stdout.
func run(t testing.TB, shell []string, script string) []byte {
	t.Helper()
	cmd := exec.Command(shell[0], append(shell[1:], "-c", script)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q -c %q: %v: %s", shell, script, err, stderr.Bytes())
	}
	return out
}

// printfLine is the command line that prints argv NUL-terminated.
func printfLine(t testing.TB, argv []string) string {
	t.Helper()
	line, err := Join(append([]string{"printf", `%s\0`}, argv...))
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func nul(argv []string) []byte {
	var b []byte
	for _, a := range argv {
		b = append(append(b, a...), 0)
	}
	return b
}

// checkRoundTrip runs argv through shell directly and through two levels.
func checkRoundTrip(t testing.TB, shell, argv []string) {
	t.Helper()
	want := nul(argv)
	line := printfLine(t, argv)
	if got := run(t, shell, line); !bytes.Equal(got, want) {
		t.Errorf("%q: %q printed %q; want %q", shell, line, got, want)
	}
	nested, err := Join(append(append([]string{}, shell...), "-c", line))
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, shell, nested); !bytes.Equal(got, want) {
		t.Errorf("%q nested: %q printed %q; want %q", shell, nested, got, want)
	}
}

func TestShellRoundTrip(t *testing.T) {
	var all []string
	for _, tt := range quoteTests {
		all = append(all, tt.in)
	}
	for _, sh := range shells(t) {
		t.Run(strings.Join(sh, " "), func(t *testing.T) {
			for _, s := range all {
				checkRoundTrip(t, sh, []string{s})
			}
			checkRoundTrip(t, sh, all)
		})
	}
}

func FuzzQuote(f *testing.F) {
	for _, tt := range quoteTests {
		f.Add(tt.in, byte(0))
	}
	f.Add("a b|c'd|$e", byte('|'))
	f.Add("x\x00y", byte(0))
	f.Add("--\n'\"\\`", byte('\n'))
	sh := []string{"/bin/sh"}
	if _, err := os.Stat(sh[0]); err != nil {
		f.Skip("no /bin/sh")
	}
	f.Fuzz(func(t *testing.T, data string, sep byte) {
		argv := []string{data}
		if sep != 0 {
			argv = strings.SplitN(data, string(sep), 3)
		}
		hasNUL := strings.IndexByte(data, 0) >= 0
		if _, err := Join(argv); hasNUL != errors.Is(err, ErrNUL) {
			t.Fatalf("Join(%q) error = %v; NUL present: %v", argv, err, hasNUL)
		}
		if !hasNUL {
			checkRoundTrip(t, sh, argv)
		}
	})
}

func TestCheckCommand(t *testing.T) {
	if err := CheckCommand([]string{"echo", "ünïcode ok"}, map[string]string{"K": "v'$`"}); err != nil {
		t.Errorf("valid command refused: %v", err)
	}
	for _, c := range []struct {
		argv []string
		env  map[string]string
		want error
	}{
		{[]string{"a\x00"}, nil, ErrNUL},
		{[]string{"ok", "\xff"}, nil, ErrInvalidUTF8},
		{[]string{"ok"}, map[string]string{"K": "\xfe"}, ErrInvalidUTF8},
		{[]string{"ok"}, map[string]string{"K\x00": "v"}, ErrNUL},
	} {
		if err := CheckCommand(c.argv, c.env); !errors.Is(err, c.want) {
			t.Errorf("CheckCommand(%q, %q) = %v; want %v", c.argv, c.env, err, c.want)
		}
	}
}
