package host_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
)

// logAPI answers log reads with log and err.
type logAPI struct {
	hostapi.API
	log []byte
	err error
}

func (a logAPI) Addr() string { return "fake" }
func (a logAPI) InstanceLog(context.Context, string, string) ([]byte, error) {
	return a.log, a.err
}
func (a logAPI) ConsoleLog(context.Context, string) ([]byte, error) { return a.log, a.err }

// The errors of the logs' reads, as the daemons answer them.
func TestLogErrors(t *testing.T) {
	ctx := context.Background()
	// LXD 5.0.2's empty console buffer, of a running container and of one
	// never started.
	for _, msg := range []string{"open : no such file or directory", "open /var/log/lxd/web/console.log: no such file or directory"} {
		h := host.New(logAPI{err: errdefs.Wrap(errdefs.ErrInternal, nil, "%s", msg)})
		log, err := h.ConsoleLog(ctx, "web")
		if err != nil || log == nil || len(log) != 0 {
			t.Errorf("console %q: %q, %v; want an empty log", msg, log, err)
		}
	}
	// A missing instance, in LXD's and Incus's words.
	for _, msg := range []string{"Instance not found", `Failed to fetch instance "web" in project "default": Instance not found`} {
		h := host.New(logAPI{err: &errdefs.StatusError{Status: 404, Message: msg}})
		_, err := h.ConsoleLog(ctx, "web")
		var m *hostapi.MissingInstance
		if !errors.As(err, &m) || err.Error() != "instance web not found on fake" {
			t.Errorf("console %q: %v; want a MissingInstance", msg, err)
		}
		_, err = h.InstanceLog(ctx, "web", hostapi.LogFile)
		if !errors.As(err, &m) {
			t.Errorf("log %q: %v; want a MissingInstance", msg, err)
		}
	}
	// A missing log file is no missing instance.
	h := host.New(logAPI{err: &errdefs.StatusError{Status: 404, Message: "not found"}})
	if _, err := h.InstanceLog(ctx, "web", hostapi.LogFile); !errors.Is(err, errdefs.ErrNotFound) || err.Error() == "instance web not found on fake" {
		t.Errorf("missing log: %v", err)
	}
	// An API that reads no logs.
	h = host.New(noEvents{})
	if _, err := h.ConsoleLog(ctx, "web"); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("no LogReader: %v; want ErrNotImplemented", err)
	}
	if _, err := h.InstanceLog(ctx, "bad/name", hostapi.LogFile); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad name: %v; want ErrInvalidArgument", err)
	}
}
