// Package archtest checks the layers of the tree: each package imports
// only packages of its own layer or of those below, but for the few
// imports listed in upward with their reasons; and no file outside
// hostapi reads a daemon's words (words_test.go).
package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/lxkit/lxkit/"

// layers, from the floor up: a package is in the layer of the longest
// prefix that names it.
var layers = [][]string{
	{"api", "errdefs"}, // wire types and error classes
	{"internal"},       // leaf helpers
	{"hostapi"},        // the host API's floor: interfaces, paths, daemon words
	{"client", "transport", "spec", "imageserver", "host"}, // one concern each
	{"transport/restapi", "transport/lxccmd", "cloudconfig", "driver"},
	{"driver/internal", "driver/cli", "driver/rest", "driver/nested", "fleet", "buildhost"},
	{"cmd", "testkit", "tools"}, // the command, the test rigs and suites, the tools
}

// upward lists the imports that run up a layer, each with its reason.
var upward = map[string]string{}

// maxUpward bounds upward.
const maxUpward = 3

func layerOf(rel string) int {
	best, bestLen := -1, -1
	for i, prefixes := range layers {
		for _, p := range prefixes {
			if (rel == p || strings.HasPrefix(rel, p+"/")) && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best
}

func TestLayers(t *testing.T) {
	if len(upward) > maxUpward {
		t.Errorf("%d imports run up a layer; at most %d may", len(upward), maxUpward)
	}
	root := "../.."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		from := layerOf(dir)
		if from < 0 {
			t.Errorf("%s: package %s is in no layer", rel, dir)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, module) {
				continue
			}
			to := strings.TrimPrefix(p, module)
			if layerOf(to) > from {
				if _, ok := upward[dir+" -> "+to]; !ok {
					t.Errorf("%s imports %s, a layer up (%d -> %d): move one of them, or list the import in upward with its reason", rel, to, from, layerOf(to))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked: is the layout as expected?", checked)
	}
}

// The layer of a package is that of its longest prefix.
func TestLayerOf(t *testing.T) {
	for rel, want := range map[string]int{
		"api": 0, "internal/tarx": 1, "hostapi": 2, "transport": 3, "transport/local": 3,
		"transport/restapi": 4, "driver": 4, "driver/internal/lifecycle": 5, "driver/nested": 5,
		"cmd/lxkit/command/cmdutil": 6, "testkit/testhost": 6, "nowhere": -1,
	} {
		if got := layerOf(rel); got != want {
			t.Errorf("layerOf(%q) = %d, want %d", rel, got, want)
		}
	}
}
