package host

import (
	"context"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// logReader returns the host's API as a hostapi.LogReader.
func (h *Host) logReader() (hostapi.LogReader, error) {
	r, ok := h.c.(hostapi.LogReader)
	if !ok {
		return nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s cannot read instance logs", h.c.Addr())
	}
	return r, nil
}

// InstanceLog returns an instance's log file: hostapi.LogFile
// ("lxc.log") for a container, hostapi.VMLogFile for a virtual machine,
// as `lxc info --show-log` prints it. A missing instance is a
// *hostapi.MissingInstance.
func (h *Host) InstanceLog(ctx context.Context, name, file string) ([]byte, error) {
	if err := ValidateName("instance", name); err != nil {
		return nil, err
	}
	r, err := h.logReader()
	if err != nil {
		return nil, err
	}
	log, err := r.InstanceLog(ctx, name, file)
	if err != nil {
		return nil, hostapi.InstanceMissing(err, name, h.c.Addr())
	}
	return log, nil
}

// ConsoleLog returns what a container wrote to its console since the
// last read, as `lxc console --show-log` prints it: reading it empties
// the buffer of a running container. An empty buffer is no error, on
// either daemon (hostapi.ConsoleEmpty). A missing instance is a
// *hostapi.MissingInstance.
func (h *Host) ConsoleLog(ctx context.Context, name string) ([]byte, error) {
	if err := ValidateName("instance", name); err != nil {
		return nil, err
	}
	r, err := h.logReader()
	if err != nil {
		return nil, err
	}
	log, err := r.ConsoleLog(ctx, name)
	switch {
	case hostapi.ConsoleEmpty.In(err):
		return []byte{}, nil
	case err != nil:
		return nil, hostapi.InstanceMissing(err, name, h.c.Addr())
	}
	return log, nil
}
