package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// matchers are the functions that look for words in a text.
var matchers = map[string]bool{
	"strings.Contains": true, "strings.ContainsAny": true, "strings.HasPrefix": true, "strings.HasSuffix": true,
	"strings.Index": true, "strings.LastIndex": true, "strings.EqualFold": true, "strings.Cut": true,
	"strings.CutPrefix": true, "strings.TrimPrefix": true, "strings.TrimSuffix": true, "strings.Count": true,
	"bytes.Contains": true, "bytes.HasPrefix": true, "bytes.Index": true, "bytes.LastIndex": true,
	"regexp.MatchString": true,
}

// wordsElsewhere lists the files outside hostapi that may read an error's
// text, and why: none of these texts is a daemon's.
var wordsElsewhere = map[string]string{
	"cloudconfig/parse.go":               "yaml.v3's messages carry the line (\"yaml: line N: ...\"); it has no typed error for it",
	"internal/yamlfile/yamlfile.go":      "yaml.v3's messages carry the line and the unknown field's name",
	"cmd/lxkit/command/cmdutil/parse.go": "Go's time.ParseDuration prefixes its message with \"duration \"",
	"imageserver/imageserver.go":         "Go's os.Root refuses a path that escapes with an error it does not export",
}

// rigs are test rigs: their assertions read lxkit's own messages.
func rig(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if strings.HasSuffix(part, "test") || strings.HasPrefix(part, "test") {
			return true
		}
	}
	return strings.HasPrefix(rel, "testkit/")
}

// TestDaemonWordsOnlyInHostapi: what a daemon says is read in one place,
// package hostapi's table. No other file looks for words in an error's
// text (err.Error(), or a variable made from it), but those listed in
// wordsElsewhere, for texts that are not a daemon's.
func TestDaemonWordsOnlyInHostapi(t *testing.T) {
	root := "../.."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "hostapi" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || rig(rel) {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		for _, what := range errorTextMatches(f) {
			if _, ok := wordsElsewhere[filepath.ToSlash(rel)]; !ok {
				t.Errorf("%s: %s looks for words in an error's text: recognise the daemon's words in hostapi (Classify or a Quirk)", rel, what)
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
	for file := range wordsElsewhere {
		if _, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, file), nil, parser.ImportsOnly); err != nil {
			t.Errorf("wordsElsewhere names %s: %v", file, err)
		}
	}
}

// errorTextMatches returns the matcher calls of f (as source-like text)
// whose arguments hold an error's text: a call of an Error method, or a
// variable assigned from one in the same function.
func errorTextMatches(f *ast.File) []string {
	var found []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		tainted := map[string]bool{}
		holdsText := func(e ast.Expr) bool {
			hit := false
			ast.Inspect(e, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Error" && len(n.Args) == 0 {
						hit = true
					}
				case *ast.Ident:
					if tainted[n.Name] {
						hit = true
					}
				}
				return !hit
			})
			return hit
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for i, rhs := range n.Rhs {
					if i < len(n.Lhs) && holdsText(rhs) {
						if id, ok := n.Lhs[i].(*ast.Ident); ok {
							tainted[id.Name] = true
						}
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					break
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok || !matchers[pkg.Name+"."+sel.Sel.Name] {
					break
				}
				for _, a := range n.Args {
					if holdsText(a) {
						found = append(found, fn.Name.Name+": "+pkg.Name+"."+sel.Sel.Name)
						break
					}
				}
			}
			return true
		})
	}
	return found
}

// The check finds the forms it is meant to and leaves other texts alone.
func TestErrorTextMatches(t *testing.T) {
	src := `package p
func direct(err error) bool { return strings.Contains(err.Error(), "in use") }
func lowered(err error) bool { low := strings.ToLower(err.Error()); return strings.Contains(low, "busy") }
func field(e *E) bool { msg := e.inner.Error(); return strings.HasPrefix(msg, "x") }
func other(name string) bool { return strings.Contains(name, "/") }
func fields(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(errorTextMatches(f), "; ")
	want := "direct: strings.Contains; lowered: strings.Contains; field: strings.HasPrefix"
	if got != want {
		t.Errorf("found %q; want %q", got, want)
	}
}
