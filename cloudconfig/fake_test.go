package cloudconfig

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/transport"
)

// fakeContainer is a transport.Transport over an in-memory file system
// that records the commands it is given. It plays the few scripts of
// this package that move files (replaceFile's rename, appendFile), says
// which tools it has, and answers other commands through handle.
type fakeContainer struct {
	mu     sync.Mutex
	files  map[string][]byte
	tools  []string
	execs  []fakeExec
	events []string // "exec ARGV0" and "write PATH", in order
	// handle answers a command; nil means success with no output.
	handle func(args []string, stdin string) (stdout string, code int)
}

type fakeExec struct {
	args  []string
	stdin string
	env   map[string]string
}

func newFake(tools ...string) *fakeContainer {
	return &fakeContainer{
		tools: tools,
		files: map[string][]byte{
			"/etc/passwd": []byte("root:x:0:0:root:/root:/bin/sh\n"),
			"/etc/group":  []byte("root:x:0:\n"),
		},
	}
}

func (f *fakeContainer) Exec(_ context.Context, cmd transport.Command) (*transport.Result, error) {
	var stdin []byte
	if cmd.Stdin != nil {
		stdin, _ = io.ReadAll(cmd.Stdin)
	}
	f.mu.Lock()
	f.execs = append(f.execs, fakeExec{args: cmd.Args, stdin: string(stdin), env: cmd.Env})
	f.events = append(f.events, "exec "+f.describe(cmd.Args))
	out, code := f.run(cmd.Args, string(stdin))
	f.mu.Unlock()
	o := transport.NewOutput(cmd)
	fmt.Fprint(o.Stdout(), out)
	return o.Result(code), nil
}

// describe names a command for events: its program, or for this
// package's scripts what they do.
func (f *fakeContainer) describe(args []string) string {
	if len(args) > 2 && args[0] == "/bin/sh" && args[1] == "-c" {
		switch s := args[2]; {
		case strings.Contains(s, "command -v"):
			return "detect"
		case strings.Contains(s, `wc -c <"$f"`):
			return "read " + strings.Join(args[4:], " ")
		case strings.Contains(s, `mv -f "$t" "$p"`):
			return "replace " + args[5]
		case strings.Contains(s, `cat >>"$1"`):
			return "append " + args[4]
		case strings.Contains(s, "zoneinfo"):
			return "timezone " + args[4]
		}
		return "sh -c " + args[2]
	}
	return strings.Join(args, " ")
}

func (f *fakeContainer) run(args []string, stdin string) (string, int) {
	if len(args) > 2 && args[0] == "/bin/sh" {
		switch s := args[2]; {
		case strings.Contains(s, "command -v"):
			return strings.Join(f.tools, "\n") + "\n", 0
		case strings.Contains(s, `wc -c <"$f"`):
			var out strings.Builder
			for _, p := range args[4:] {
				if data, ok := f.files[p]; ok {
					fmt.Fprintf(&out, "%7d %s\n%s", len(data), p, data)
				} else {
					fmt.Fprintf(&out, "- %s\n", p)
				}
			}
			return out.String(), 0
		case strings.Contains(s, `mv -f "$t" "$p"`):
			f.files[args[5]] = f.files[args[4]]
			delete(f.files, args[4])
			return "", 0
		case strings.Contains(s, `cat >>"$1"`):
			f.files[args[4]] = append(f.files[args[4]], stdin...)
			return "", 0
		}
	}
	if f.handle != nil {
		return f.handle(args, stdin)
	}
	return "", 0
}

func (f *fakeContainer) ReadFile(_ context.Context, p string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, ok := f.files[p]
	if !ok {
		return nil, fmt.Errorf("reading %s: %w", p, errdefs.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (f *fakeContainer) WriteFile(_ context.Context, p string, r io.Reader, _ transport.FileOptions) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[p] = data
	f.events = append(f.events, "write "+p)
	return nil
}

// commands returns the recorded commands, joined, leaving out the
// package's own file scripts and detection.
func (f *fakeContainer) commands() []string {
	var out []string
	for _, e := range f.events {
		if strings.HasPrefix(e, "exec ") && !strings.HasPrefix(e, "exec replace ") && !strings.HasPrefix(e, "exec read ") && e != "exec detect" {
			out = append(out, strings.TrimPrefix(e, "exec "))
		}
	}
	return out
}
