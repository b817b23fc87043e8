package yamlfile

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/lxkit/lxkit/errdefs"
)

// Limits on what one file may make the YAML parser and decoder do, so
// that a hostile file of the 1 MiB lxkit reads costs little time and
// memory: parsing takes about 170 bytes per value, and yaml.v3 compares
// each key of a mapping it decodes with every other one.
const (
	// MaxValues bounds a file's YAML values, aliases expanded.
	MaxValues = 100_000
	// MaxDepth bounds the nesting of collections, aliases expanded.
	MaxDepth = 100
	// MaxKeys bounds the keys of one mapping.
	MaxKeys = 2_000
)

// LineError is what a file holds at a line that lxkit refuses. It
// matches errdefs.ErrInvalidArgument.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string        { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }
func (e *LineError) Is(target error) bool { return target == errdefs.ErrInvalidArgument }

// ParseDocument parses data, read from the file name, into a document
// node (of Kind 0 when data is empty), refusing what Check and
// CheckTree refuse.
func ParseDocument(name string, data []byte) (*yaml.Node, error) {
	if err := Check(name, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Error(name, err)
	}
	if err := CheckTree(name, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// Check refuses, before any parsing, data that is not UTF-8 and data
// that may hold more than MaxValues values: every value but the
// document's first is introduced by one of the bytes , : - [ { ? (an
// item, a key and its value), so twice their count bounds the values.
// The errors are *LineError.
func Check(name string, data []byte) error {
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		line, col := position(data, i)
		return &LineError{File: name, Line: line, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x, column %d)", data[i], col)}
	}
	values := 2
	for i, b := range data {
		switch b {
		case ',', ':', '-', '[', '{', '?':
			if values += 2; values > MaxValues {
				line, _ := position(data, i)
				return &LineError{File: name, Line: line, Msg: fmt.Sprintf("more than %d YAML values", MaxValues)}
			}
		}
	}
	return nil
}

// position is the line and column (from 1, in bytes) of data[i].
func position(data []byte, i int) (line, col int) {
	line = 1 + bytes.Count(data[:i], []byte("\n"))
	return line, i - bytes.LastIndexByte(data[:i], '\n')
}

// CheckTree refuses a parsed document nested deeper than MaxDepth, with
// a mapping of more than MaxKeys keys, or of more than MaxValues values
// once its aliases are expanded (a "billion laughs"), naming the file
// and the line where the limit is crossed in a *LineError.
func CheckTree(name string, doc *yaml.Node) error {
	t := &tree{name: name, sizes: map[*yaml.Node]extent{}}
	return t.walk(doc, 0)
}

// extent is how many values a node stands for and how deep it goes,
// aliases expanded.
type extent struct{ values, depth int }

// endless is the extent of a node that contains an alias of itself.
var endless = extent{values: -1}

type tree struct {
	name   string
	values int
	sizes  map[*yaml.Node]extent // of alias targets
}

func (t *tree) fail(n *yaml.Node, format string, args ...any) error {
	return &LineError{File: t.name, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// walk visits n in document order, at depth (n's parents), counting
// values as it goes.
func (t *tree) walk(n *yaml.Node, depth int) error {
	e := extent{values: 1}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if e = t.extent(n.Alias); e == endless {
			return t.fail(n, "alias *%s stands for a value that contains it", n.Value)
		}
	}
	if t.values += e.values; t.values > MaxValues {
		return t.fail(n, "more than %d YAML values (with aliases expanded)", MaxValues)
	}
	if depth+e.depth > MaxDepth {
		return t.fail(n, "nested deeper than %d levels", MaxDepth)
	}
	if n.Kind == yaml.MappingNode && len(n.Content) > 2*MaxKeys {
		return t.fail(n, "a mapping of more than %d keys", MaxKeys)
	}
	if n.Kind == yaml.AliasNode {
		return nil
	}
	for _, c := range n.Content {
		if err := t.walk(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// extent measures the node an alias stands for. Anchors come before
// their aliases, so the node was walked already: its own depth is
// bounded, and so is the recursion here.
func (t *tree) extent(n *yaml.Node) extent {
	if e, ok := t.sizes[n]; ok {
		return e
	}
	t.sizes[n] = endless // until measured: met again, n contains itself
	e := extent{values: 1}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		e = t.extent(n.Alias)
	}
	for _, c := range n.Content {
		ce := t.extent(c)
		if ce == endless {
			e = endless
			break
		}
		e.values += ce.values
		e.depth = max(e.depth, ce.depth+1)
		if e.values > MaxValues {
			break // enough to refuse
		}
	}
	t.sizes[n] = e
	return e
}
