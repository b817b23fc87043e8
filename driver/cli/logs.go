package cli

import (
	"bytes"
	"context"
	"fmt"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// The CLI reads an instance's logs with `lxc info --show-log` and `lxc
// console --show-log`: `lxc query` decodes these answers as JSON, so lxc
// 5.0.2 fails on an empty log ("EOF") and on the console buffer, and
// incus 6.0.4 prints nothing for the console buffer it has emptied.
var _ hostapi.LogReader = queryAPI{}

// InstanceLog returns the log `lxc info --show-log` prints: the
// container's lxc.log (a virtual machine's qemu.log). Another file is
// errdefs.ErrNotImplemented.
func (q queryAPI) InstanceLog(ctx context.Context, name, file string) ([]byte, error) {
	if file != hostapi.LogFile && file != hostapi.VMLogFile {
		return nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s: reading the log %s of %s: the CLI driver reads only %s and %s", q.h.Addr(), file, name, hostapi.LogFile, hostapi.VMLogFile)
	}
	out, err := q.h.Run(ctx, nil, "info", "--show-log", q.h.Target(name))
	if err != nil {
		return nil, fmt.Errorf("reading the log of %s: %w", name, q.h.OnMember(ctx, name, err))
	}
	log, ok := afterLogHeader(out)
	if !ok {
		return nil, errdefs.Wrap(errdefs.ErrInternal, nil, "%s: info --show-log %s printed no log", q.h.Addr(), name)
	}
	return log, nil
}

// ConsoleLog returns what `lxc console --show-log` prints, without the
// lines lxc adds.
func (q queryAPI) ConsoleLog(ctx context.Context, name string) ([]byte, error) {
	out, err := q.h.Run(ctx, nil, "console", "--show-log", q.h.Target(name))
	if err != nil {
		return nil, fmt.Errorf("reading the console log of %s: %w", name, q.h.OnMember(ctx, name, err))
	}
	return consoleText(out), nil
}

// logHeader is what lxc 5.0.2 and incus 6.0.4 print between `info` and
// the log of `info --show-log`, which then ends with one more newline.
var logHeader = []byte("\nLog:\n\n")

// afterLogHeader returns the log that `lxc info --show-log` printed in
// out, and whether out holds one.
func afterLogHeader(out []byte) ([]byte, bool) {
	_, log, ok := bytes.Cut(out, logHeader)
	if !ok {
		return nil, false
	}
	return bytes.TrimSuffix(log, []byte("\n")), true
}

// consoleHeader is what lxc 5.0.2 prints before the console log
// ("\nConsole log:\n\n"); incus 6.0.4 prints the log alone. Both end it
// with one more newline.
var consoleHeader = []byte("\nConsole log:\n\n")

// consoleText returns the console log in the output of `lxc console
// --show-log`.
func consoleText(out []byte) []byte {
	out = bytes.TrimPrefix(out, consoleHeader)
	return bytes.TrimSuffix(out, []byte("\n"))
}
