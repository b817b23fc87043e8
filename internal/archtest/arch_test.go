// Package archtest checks that imports point one way: wire types and error
// classes at the bottom, the host API's floor (hostapi) on them, the
// client and package host above it, transports and drivers above that,
// and the command at the edge; and that a daemon's words are read only
// in hostapi.
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

// forbidden lists, per package directory, module packages it must not import.
var forbidden = map[string][]string{
	"api":                       {""}, // stdlib only
	"errdefs":                   {""},
	"hostapi":                   {"client", "driver", "transport", "host", "internal", "fleet", "spec", "cloudconfig", "buildhost", "imageserver", "cmd", "tools"},
	"client":                    {"driver", "transport", "internal/cmd"},
	"transport":                 {"driver", "client", "internal/cmd"},
	"driver":                    {"client", "internal/cmd", "transport/rest"},
	"driver/internal/lifecycle": {"client", "internal/cmd", "transport/rest", "transport/cli"},
	"host":                      {"client", "internal/cmd", "transport", "driver"},
	"spec":                      {"client", "driver", "host", "transport", "internal/cmd"},
	"fleet":                     {"client", "internal/cmd", "transport/rest", "transport/cli", "driver/rest", "driver/cli"},
	"cloudconfig":               {"client", "driver", "host", "internal/cmd"},
	"buildhost":                 {"client", "internal/cmd", "transport/rest", "transport/cli", "driver/rest", "driver/cli"},
	"imageserver":               {"client", "driver", "host", "transport", "internal/cmd"},
	"internal/tarx":             {"api", "client", "driver", "transport", "internal/cmd"},
}

func TestImportArrows(t *testing.T) {
	root := "../.."
	checked := 0
	for dir, bans := range forbidden {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, imp := range pf.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				if !strings.HasPrefix(path, module) {
					continue
				}
				rel := strings.TrimPrefix(path, module)
				for _, ban := range bans {
					if ban == "" || rel == ban || strings.HasPrefix(rel, ban+"/") {
						t.Errorf("%s imports %s: %s must not depend on %q", f, path, dir, ban)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d files checked: is the layout as expected?", checked)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
}
