package cmdutil

import (
	"bytes"
	"io"

	"github.com/rogpeppe/go-internal/diff"
)

// Differ is the exit status of a diff command whose two sides differ, as
// diff(1)'s: 0 when they are the same, 1 when they differ, 2 for trouble.
var Differ = &ExitError{Code: 1}

// Trouble makes err a diff command's failure: exit status 2, as diff(1)'s.
func Trouble(err error) error {
	if err == nil || IsUsage(err) {
		return err
	}
	return &ExitError{Code: 2, Err: err}
}

// WriteDiff writes old and new as YAML (WriteYAML: keys sorted) and, when
// the texts differ, a unified diff of them to w: "--- oldName", "+++
// newName", then hunks of lines, "-" for old's, "+" for new's, " " for
// three lines of context on each side. It writes nothing when they are
// the same, and reports whether they differ.
func WriteDiff(w io.Writer, oldName string, old any, newName string, new any) (bool, error) {
	var a, b bytes.Buffer
	if err := WriteYAML(&a, old); err != nil {
		return false, err
	}
	if err := WriteYAML(&b, new); err != nil {
		return false, err
	}
	out := diff.Diff(oldName, a.Bytes(), newName, b.Bytes())
	if out == nil {
		return false, nil
	}
	// The first line, "diff OLD NEW", says what the two after it say.
	if i := bytes.IndexByte(out, '\n'); i >= 0 && bytes.HasPrefix(out, []byte("diff ")) {
		out = out[i+1:]
	}
	_, err := w.Write(out)
	return true, err
}
