// Package yamlfile decodes YAML files strictly, with errors that name the
// file and line: "app.yaml:3: unknown key \"imgae\"".
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lxkit/lxkit/errdefs"
)

// Decode decodes the YAML document data, read from the file name, into v:
// an empty document leaves v as it is; anything but a mapping, a key v has
// no field for or a value of the wrong type is an errdefs.ErrInvalidArgument
// that names the file and line.
func Decode(name string, data []byte, v any) error {
	n, err := Parse(name, data)
	if err != nil || n == nil {
		return err
	}
	return DecodeNode(name, n, v)
}

// Parse returns the mapping that the YAML document data holds, or nil for
// an empty document, for a caller that changes it before DecodeNode. It
// refuses what Check and CheckTree refuse.
func Parse(name string, data []byte) (*yaml.Node, error) {
	doc, err := ParseDocument(name, data)
	if err != nil || doc.Kind == 0 {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: expected a mapping of keys", name, doc.Line)
	}
	return doc.Content[0], nil
}

// KeyLine is the line of the key that path names in the mapping m, key
// under key ("instances", "web"), or 0 when there is none.
func KeyLine(m *yaml.Node, path ...string) int {
	line := 0
	for _, key := range path {
		if m == nil || m.Kind != yaml.MappingNode {
			return 0
		}
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				line, next = m.Content[i].Line, m.Content[i+1]
				break
			}
		}
		if next == nil {
			return 0
		}
		m = next
	}
	return line
}

// DecodeNode decodes n, read from the file name, strictly into v, with
// errors as Decode's.
func DecodeNode(name string, n *yaml.Node, v any) error {
	if err := DecodeStrict(n, v); err != nil {
		return Error(name, err)
	}
	return nil
}

// DecodeStrict decodes n into v, refusing keys v has no field for.
func DecodeStrict(n *yaml.Node, v any) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	// Marshal loses positions: decode the node itself first for errors
	// with lines, then the bytes with KnownFields for unknown keys.
	if err := n.Decode(v); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return unknownKey(n, err)
	}
	return nil
}

// unknownKey finds, for a KnownFields error, the key's line in n.
func unknownKey(n *yaml.Node, err error) error {
	msg := err.Error()
	i := strings.Index(msg, "field ")
	j := strings.Index(msg, " not found")
	if i < 0 || j < i {
		return err
	}
	key := msg[i+len("field ") : j]
	var line int
	var walk func(*yaml.Node)
	walk = func(m *yaml.Node) {
		if line != 0 {
			return
		}
		if m.Kind == yaml.MappingNode {
			for k := 0; k+1 < len(m.Content); k += 2 {
				if m.Content[k].Value == key {
					line = m.Content[k].Line
					return
				}
			}
		}
		for _, c := range m.Content {
			walk(c)
		}
	}
	walk(n)
	if line == 0 {
		return err
	}
	return &lineError{line: line, msg: fmt.Sprintf("unknown key %q", key)}
}

type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// Error puts the file name before yaml's "line N: ..." messages, as
// file:N: ...
func Error(name string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: %s", name, le.line, le.msg)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var parts []string
		for _, e := range te.Errors {
			parts = append(parts, fileLine(name, e))
		}
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s", strings.Join(parts, "; "))
	}
	return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s", fileLine(name, strings.TrimPrefix(err.Error(), "yaml: ")))
}

func fileLine(name, msg string) string {
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			return name + ":" + rest[:i] + ":" + rest[i+1:]
		}
	}
	return name + ": " + msg
}
