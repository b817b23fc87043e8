package objects

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/internal/yamlfile"
	"github.com/spf13/cobra"
)

// Editable is a kind of object as edit reads and writes it, whatever its
// Go types (see EditableOf).
type Editable interface {
	// Open reads the object's writable part.
	Open(ctx context.Context, name string) (Draft, error)
}

// Draft is an object's writable part as Open read it.
type Draft interface {
	// YAML is the writable part as edit shows it.
	YAML() ([]byte, error)
	// Decode reads text, an edit of YAML, into the writable part it
	// stands for. Keys of the whole object that PUT does not take (name,
	// status, used_by, ...) are ignored, so that show's output can be
	// edited; any other key is refused. Errors match
	// errdefs.ErrInvalidArgument and name file and the line.
	Decode(file string, text []byte) (any, error)
	// Write writes put, from Decode, over the object, unless it is what
	// Open read; it reports whether it sent anything. An object changed
	// since Open is an error matching errdefs.ErrPreconditionFailed (see
	// host.Collection.Replace).
	Write(ctx context.Context, put any) (sent bool, err error)
}

// EditableOf returns the objects of c as edit reads and writes them.
func EditableOf[T, Put, Post any](c *host.Collection[T, Put, Post]) Editable {
	return editable[T, Put, Post]{c}
}

type editable[T, Put, Post any] struct {
	c *host.Collection[T, Put, Post]
}

func (e editable[T, Put, Post]) Open(ctx context.Context, name string) (Draft, error) {
	was, etag, err := e.c.Writable(ctx, name)
	if err != nil {
		return nil, err
	}
	// shown is was with empty maps for missing ones, as Decode makes
	// them: an edit that changes nothing compares equal.
	var shown Put
	if err := clone(was, &shown); err != nil {
		return nil, err
	}
	fillEmpty(&shown)
	return &draft[T, Put, Post]{c: e.c, name: name, was: was, shown: &shown, etag: etag}, nil
}

type draft[T, Put, Post any] struct {
	c          *host.Collection[T, Put, Post]
	name       string
	was, shown *Put
	etag       string
}

func (d *draft[T, Put, Post]) YAML() ([]byte, error) {
	var b bytes.Buffer
	err := cmdutil.WriteYAML(&b, d.shown)
	return b.Bytes(), err
}

func (d *draft[T, Put, Post]) Decode(file string, text []byte) (any, error) {
	m, err := yamlfile.Parse(file, text)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: empty: nothing to write", file)
	}
	writable := jsonFields(reflect.TypeFor[Put]())
	whole := jsonFields(reflect.TypeFor[T]())
	keep := *m
	keep.Content = nil
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if goName, ok := writable[k.Value]; ok {
			// yaml.v3 reads a field untagged for YAML by its Go name in
			// lower case.
			key := *k
			key.Value = strings.ToLower(goName)
			keep.Content = append(keep.Content, &key, v)
			continue
		}
		if _, ok := whole[k.Value]; ok {
			continue // read-only: PUT does not take it
		}
		keys := make([]string, 0, len(writable))
		for k := range writable {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s:%d: unknown key %q: the keys to edit are %s",
			file, k.Line, k.Value, strings.Join(keys, ", "))
	}
	var put Put
	if err := yamlfile.DecodeNode(file, &keep, &put); err != nil {
		return nil, err
	}
	fillEmpty(&put)
	return &put, nil
}

func (d *draft[T, Put, Post]) Write(ctx context.Context, put any) (bool, error) {
	p, ok := put.(*Put)
	if !ok {
		return false, errdefs.Wrap(errdefs.ErrInternal, nil, "edit: %T is not what Decode makes", put)
	}
	if same, err := sameJSON(p, d.shown); err != nil || same {
		return false, err
	}
	return true, d.c.Replace(ctx, d.name, d.was, d.etag, p)
}

// jsonFields maps the JSON names of t's fields (a struct's, those of
// embedded structs included) to their Go names.
func jsonFields(t reflect.Type) map[string]string {
	out := map[string]string{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
		case name == "":
			out[f.Name] = f.Name
		default:
			out[name] = f.Name
		}
	}
	return out
}

// fillEmpty gives the nil maps and slices among the fields of the struct p
// points to an empty value: a key left out of an edit clears what it
// held, as an empty one does.
func fillEmpty(p any) {
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch {
		case !f.CanSet():
		case f.Kind() == reflect.Map && f.IsNil():
			f.Set(reflect.MakeMap(f.Type()))
		case f.Kind() == reflect.Slice && f.IsNil():
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		}
	}
}

func clone(from, to any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}

func sameJSON(a, b any) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	return bytes.Equal(ja, jb), err
}

// EditOptions are the inputs of `KIND edit` (and `lxkit edit`).
type EditOptions struct {
	Scope
	Parent, Name string
	// Editor edits file in place; nil runs the user's editor
	// (cmdutil.RunEditor).
	Editor func(ctx context.Context, file string) error
}

// maxEditSize bounds what edit reads from stdin or the editor's file.
const maxEditSize = 1 << 20

// NewCmdEdit returns `KIND edit`: k must have Editable. runF, when not
// nil, runs instead (for tests).
func NewCmdEdit[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *EditOptions) error) *cobra.Command {
	opts := &EditOptions{Scope: NewScope(f)}
	return &cobra.Command{
		Use:   "edit " + k.objectUse(),
		Short: fmt.Sprintf("Edit a %s's configuration as YAML in $VISUAL or $EDITOR", k.Noun),
		Long: fmt.Sprintf(`Edit the writable part of a %[1]s (what show prints that a change may
replace) as YAML in $VISUAL, else $EDITOR, else vi, and write it back on
save, as lxc's edit commands do. A file saved unchanged sends nothing; an
emptied one cancels the edit.

The write is refused if the %[1]s changed since the editor opened (through
the REST driver the daemon checks the ETag; the CLI driver, which cannot
send one, reads the %[1]s again just before writing): run edit again. When
the daemon or the YAML parser refuses the text, the editor opens again with
the error on top, as # lines; save it unchanged to give up.

When stdin is not a terminal, the YAML is read from it instead and written
at once (edit ... < file.yaml); an error then ends the command (exit
status 1) and nothing is written.`, k.Noun),
		Args: cmdutil.ExactArgs(k.nArgs(), "one "+k.Noun),
		RunE: RunE(opts, func(_ *cobra.Command, args []string) error {
			if _, err := k.setObject(&opts.Scope, &opts.Parent, &opts.Name, args); err != nil {
				return err
			}
			return host.ValidateName(k.Noun, opts.Name)
		}, runF, k.RunEdit),
	}
}

// RunEdit runs `KIND edit` with o.
func (k *Kind[T, Post]) RunEdit(ctx context.Context, o *EditOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	what := k.Describe(&o.Scope, o.Parent, o.Name)
	d, err := k.Editable(h, o.Parent).Open(ctx, o.Name)
	if err != nil {
		return k.Explain(ctx, &o.Scope, o.Parent, err)
	}
	var sent bool
	since := "the editor opened"
	if o.IO.IsStdinTTY() {
		sent, err = editInEditor(ctx, o, d, what, h.Addr())
	} else {
		since = "it was read"
		sent, err = editFromStdin(ctx, o, d)
	}
	switch {
	case errors.Is(err, errdefs.ErrPreconditionFailed):
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, err, "%s changed since %s: nothing sent; run edit again", what, since)
	case err != nil:
		return k.Explain(ctx, &o.Scope, o.Parent, err)
	case sent:
		cmdutil.Success(o.IO, o.Globals, "Updated %s", what)
	default:
		cmdutil.Success(o.IO, o.Globals, "No change: nothing sent to %s", what)
	}
	return nil
}

// editFromStdin writes what stdin holds.
func editFromStdin(ctx context.Context, o *EditOptions, d Draft) (bool, error) {
	text, err := io.ReadAll(io.LimitReader(o.IO.In, maxEditSize+1))
	if err != nil {
		return false, fmt.Errorf("reading stdin: %w", err)
	}
	if len(text) > maxEditSize {
		return false, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "stdin: more than %d bytes", maxEditSize)
	}
	put, err := d.Decode("stdin", text)
	if err != nil {
		return false, err
	}
	return d.Write(ctx, put)
}

// editInEditor runs the editor on the draft until what it saves is
// written, the user gives up, or the object changed meanwhile.
func editInEditor(ctx context.Context, o *EditOptions, d Draft, what, addr string) (sent bool, err error) {
	doc, err := d.YAML()
	if err != nil {
		return false, err
	}
	f, err := os.CreateTemp("", "lxkit-edit-*.yaml")
	if err != nil {
		return false, err
	}
	file := f.Name()
	f.Close()
	keep := false // the user's text, when it could not be written
	defer func() {
		if !keep {
			os.Remove(file)
		}
	}()
	editor := o.Editor
	if editor == nil {
		editor = func(ctx context.Context, file string) error { return cmdutil.RunEditor(ctx, o.IO, file) }
	}
	name := filepath.Base(file)

	text := []byte(fmt.Sprintf(`# %s on %s, as YAML. Lines starting with # are ignored.
# Save and quit to write it back; an unchanged file sends nothing, an empty one cancels.
`, what, addr) + string(doc))
	var block []byte // the error block on top of text, if any
	for {
		if err := os.WriteFile(file, text, 0o600); err != nil {
			return false, err
		}
		if err := editor(ctx, file); err != nil {
			return false, fmt.Errorf("%w: nothing sent", err)
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		saved, err := os.ReadFile(file)
		if err != nil {
			return false, err
		}
		if len(saved) > maxEditSize {
			return false, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: more than %d bytes", file, maxEditSize)
		}
		body := bytes.TrimPrefix(saved, block)
		if isBlank(body) {
			return false, errdefs.Wrap(errdefs.ErrCanceled, nil, "edit cancelled: the file was emptied; nothing sent")
		}
		if block != nil && bytes.Equal(saved, text) {
			keep = true
			return false, fmt.Errorf("%s was saved unchanged after an error: nothing sent (your text is kept in %s): %w", name, file, lastErr(block))
		}
		put, err := d.Decode(name, body)
		if err == nil {
			sent, err = d.Write(ctx, put)
		}
		switch {
		case err == nil:
			return sent, nil
		case errors.Is(err, errdefs.ErrPreconditionFailed):
			keep = true
			return false, fmt.Errorf("%w (your text is kept in %s)", err, file)
		case ctx.Err() != nil || errors.Is(err, errdefs.ErrNotFound):
			return false, err
		}
		// Again, with the error on top. Lines in a YAML error count from
		// the top of the file as it is reopened.
		block = errorBlock(err)
		if _, derr := d.Decode(name, append(bytes.Repeat([]byte("\n"), bytes.Count(block, []byte("\n"))), body...)); derr != nil && err.Error() != derr.Error() {
			block = errorBlock(derr)
		}
		text = append(append([]byte(nil), block...), body...)
	}
}

// errorBlockHead starts the comment lines an error puts on top of the
// file.
const errorBlockHead = "# Error: "

// errorBlock is err as the # lines edit puts on top of the file.
func errorBlock(err error) []byte {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		if i == 0 {
			b.WriteString(errorBlockHead)
		} else {
			b.WriteString("#   ")
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("# Fix the text below and save to try again; save it unchanged to give up.\n")
	return []byte(b.String())
}

// lastErr is the error an error block holds, for the message of an edit
// given up.
func lastErr(block []byte) error {
	first, _, _ := strings.Cut(string(block), "\n")
	return errors.New(strings.TrimPrefix(first, errorBlockHead))
}

// isBlank reports whether text holds nothing but white space and
// comment lines.
func isBlank(text []byte) bool {
	for _, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}
