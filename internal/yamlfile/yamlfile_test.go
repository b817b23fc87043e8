package yamlfile

import (
	"errors"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

type doc struct {
	Name  string            `yaml:"name"`
	Count int               `yaml:"count"`
	Tags  map[string]string `yaml:"tags"`
}

func TestDecodeErrorsNameFileAndLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"name: a\nnmae: b\n", `job.yaml:2: unknown key "nmae"`},
		{"name: a\ncount: many\n", "job.yaml:2: cannot unmarshal !!str `many` into int"},
		{"name: a\n  count: 1\n", "job.yaml:2: mapping values are not allowed in this context"},
		{"- a\n- b\n", "job.yaml:1: expected a mapping of keys"},
		{"name: a\ntags:\n  x: 1\n  x: 2\n", `job.yaml:4: mapping key "x" already defined at line 3`},
	} {
		var d doc
		err := Decode("job.yaml", []byte(c.in), &d)
		if err == nil || err.Error() != c.want || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Decode(%q) = %v; want %q", c.in, err, c.want)
		}
	}
}

func TestDecode(t *testing.T) {
	var d doc
	if err := Decode("job.yaml", nil, &d); err != nil || d.Name != "" {
		t.Errorf("empty document: %+v, %v", d, err)
	}
	if err := Decode("job.yaml", []byte("name: a\ncount: 2\ntags: {k: v}\n"), &d); err != nil || d.Name != "a" || d.Count != 2 || d.Tags["k"] != "v" {
		t.Errorf("got %+v, %v", d, err)
	}
}
