// Package transport defines how lxkit runs commands and moves files on one
// target: a container, a nested container or this machine. Drivers talk to
// a host; transports talk to what runs on it.
//
// A Transport has three methods. Everything else (whole files, folders,
// "run and fail on a non-zero exit") is built on them by this package, so a
// new transport gets those for free; a transport may implement the optional
// FolderUploader and FolderDownloader interfaces to do folders its own way.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Transport runs commands and moves files on one target.
type Transport interface {
	// Exec runs a command and waits for it. A command that ran returns a
	// Result, whatever its exit code; the error is for what kept it from
	// running or finishing (with the Result when there is one, e.g. on a
	// timeout).
	Exec(ctx context.Context, cmd Command) (*Result, error)
	// ReadFile opens a file for reading; the caller closes it.
	ReadFile(ctx context.Context, path string) (io.ReadCloser, error)
	// WriteFile creates or replaces a file with what r holds, streaming it.
	WriteFile(ctx context.Context, path string, r io.Reader, opts FileOptions) error
}

// Command is a command to run, in the shape of os/exec.Cmd.
type Command struct {
	// Args is the program and its arguments. No shell is involved: wrap
	// the command in Shell(...) to have one.
	Args []string
	// Stdin is the command's input; nil reads nothing.
	Stdin io.Reader
	// Stdout and Stderr receive the output live; nil discards it (unless
	// Capture is set). With TTY, all output arrives on Stdout.
	Stdout, Stderr io.Writer
	// Capture keeps the whole output in Result.Stdout and Result.Stderr,
	// in addition to the writers.
	Capture bool
	// Env adds variables to the command's environment.
	Env map[string]string
	// Dir is the working directory; empty means the user's home.
	Dir string
	// User and Group run the command as someone else than the transport's
	// user: a name or a numeric id. Empty means the transport's user.
	User, Group string
	// Timeout stops the command (SIGTERM, then SIGKILL) after this long;
	// zero means no limit beyond the context's.
	Timeout time.Duration
	// TTY runs the command on a terminal of Size, resized by Resize.
	TTY    bool
	Size   WindowSize
	Resize <-chan WindowSize
}

// WindowSize is a terminal size in characters.
type WindowSize struct{ Width, Height int }

// Shell returns argv that runs script with /bin/sh -c.
func Shell(script string) []string { return []string{"/bin/sh", "-c", script} }

// FileOptions says who owns a written file and its mode. The zero value
// writes mode 0644 owned by the transport's user.
type FileOptions struct {
	Mode os.FileMode // permission bits; 0 means 0644
	UID  *int        // nil means the transport's user
	GID  *int        // nil means the transport's user's group
}

// Int returns a pointer to v, for FileOptions.
func Int(v int) *int { return &v }

// Result is what a finished command left.
type Result struct {
	Args     []string
	ExitCode int
	// Stdout and Stderr hold the whole output when Command.Capture was set.
	Stdout, Stderr []byte
	// Tail is the last few KiB of the output (stderr, else stdout), kept
	// for error messages whether or not Capture was set.
	Tail []byte
}

// Err returns an *ExitError when the command exited with a non-zero code.
func (r *Result) Err() error {
	if r == nil || r.ExitCode == 0 {
		return nil
	}
	return &ExitError{Args: r.Args, Code: r.ExitCode, Tail: r.Tail}
}

// ExitError is a command that exited with a non-zero code.
type ExitError struct {
	Args []string
	Code int
	Tail []byte // the end of the command's output
}

func (e *ExitError) Error() string {
	msg := strings.Join(e.Args, " ")
	if len(msg) > 80 {
		msg = msg[:77] + "..."
	}
	s := msg + ": exit status " + strconv.Itoa(e.Code)
	if e.Code == 127 {
		s += " (command not found)"
	}
	if t := strings.TrimSpace(string(e.Tail)); t != "" {
		s += ": " + t
	}
	return s
}

// Impersonator is implemented by transports that can act as another user:
// commands run as that user and new files belong to them.
type Impersonator interface {
	As(user, group string) Transport
}

// As returns a transport acting as user and group (names or ids; an empty
// group means the user's own), or an error if t cannot do that.
func As(t Transport, user, group string) (Transport, error) {
	if im, ok := t.(Impersonator); ok {
		return im.As(user, group), nil
	}
	return nil, fmt.Errorf("this transport (%T) cannot act as another user", t)
}

// Run runs args and returns the captured stdout, or an error for a
// non-zero exit that carries the code and the end of the output.
func Run(ctx context.Context, t Transport, args ...string) (string, error) {
	res, err := t.Exec(ctx, Command{Args: args, Capture: true})
	if err != nil {
		return "", err
	}
	if err := res.Err(); err != nil {
		return string(res.Stdout), err
	}
	return string(res.Stdout), nil
}

// KillGrace is how long a stopped command may take to exit after SIGTERM
// before it gets SIGKILL, in every transport.
const KillGrace = 2 * time.Second

// TimeoutError is err, said to be cmd's Timeout when it is the deadline
// that stopped it.
func TimeoutError(cmd Command, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && cmd.Timeout > 0 {
		return fmt.Errorf("%v: timed out after %s: %w", cmd.Args, cmd.Timeout, err)
	}
	return err
}
