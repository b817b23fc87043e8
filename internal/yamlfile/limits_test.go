package yamlfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

// Laughs is a "billion laughs": nine lists of nine aliases of the one
// before, 9^10 values once expanded.
func laughs() string {
	s := "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i := 1; i < 10; i++ {
		s += fmt.Sprintf("l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	return s
}

func TestLimits(t *testing.T) {
	deepBlock := "a:\n" + strings.Repeat("- ", 10_000) + "x\n"
	for _, c := range []struct{ name, in, want string }{
		{"invalid UTF-8", "a: 1\nb: \"x\xffy\"\n", `f.yaml:2: invalid UTF-8 (byte 0xff, column 6)`},
		{"too many values", "a: [" + strings.Repeat("1,", 60_000) + "]\n", "f.yaml:1: more than 100000 YAML values"},
		{"billion laughs", laughs(), "f.yaml:6: more than 100000 YAML values (with aliases expanded)"},
		{"nested flow", "a: " + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + "\n", "f.yaml:1: nested deeper than 100 levels"},
		{"nested block", deepBlock, "f.yaml:2: nested deeper than 100 levels"},
		{"nested by aliases", "a: &a " + strings.Repeat("[", 60) + "x" + strings.Repeat("]", 60) + "\nb: [*a]\nc: " + strings.Repeat("[", 50) + "*a" + strings.Repeat("]", 50) + "\n",
			"f.yaml:3: nested deeper than 100 levels"},
		{"alias of itself", "a: &x [1, *x]\n", "f.yaml:1: alias *x stands for a value that contains it"},
		{"wide mapping", "a: {" + strings.Repeat("k: 1, ", 2_001) + "}\n", "f.yaml:1: a mapping of more than 2000 keys"},
	} {
		_, err := ParseDocument("f.yaml", []byte(c.in))
		var le *LineError
		if err == nil || err.Error() != c.want || !errors.Is(err, errdefs.ErrInvalidArgument) || !errors.As(err, &le) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
	ok := "a: &a [" + strings.Repeat("1, ", 999) + "1]\nb: [" + strings.Repeat("*a, ", 90) + "]\nc: {" + strings.Repeat("k: 1, ", 2_000) + "}\n"
	if _, err := ParseDocument("f.yaml", []byte(ok)); err != nil {
		t.Errorf("a file within the limits: %v", err)
	}
}
