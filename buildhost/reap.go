package buildhost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/procid"
)

// Container is a job's container found on a host.
type Container struct {
	Name   string
	Job    string
	Status string
	// Location is the cluster member the container is on; "" on a host
	// that is no cluster.
	Location string
	// Deadline is when the container becomes a leftover; zero when its
	// configuration does not say.
	Deadline time.Time
	// RunnerGone says that the process that ran its job has ended, on
	// this machine, without deleting it: a leftover whatever its deadline.
	RunnerGone bool
}

// Containers lists the job containers of a host, by name: on a cluster,
// those of every member (the daemon lists them all).
func Containers(ctx context.Context, d driver.Driver) ([]Container, error) {
	list, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Container
	for _, inst := range list {
		job, ok := inst.Config[KeyJob]
		if !ok {
			continue
		}
		c := Container{Name: inst.Name, Job: job, Status: inst.Status}
		if hostapi.OnCluster(inst.Location) {
			c.Location = inst.Location
		}
		c.Deadline, _ = time.Parse(time.RFC3339, inst.Config[KeyDeadline])
		c.RunnerGone = inst.Config[KeyRunner] != "" && procid.Gone(inst.Config[KeyRunner])
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Reap deletes the job containers that runners left behind: those whose
// deadline is before now (a runner that died, or kept them), and those
// whose runner has ended on this machine without deleting them (it died,
// or the daemon did); with jobs, only the containers of those jobs. It
// returns the names it deleted; containers without a readable deadline
// are left alone unless their runner is gone.
func Reap(ctx context.Context, d driver.Driver, now time.Time, jobs ...string) ([]string, error) {
	list, err := Containers(ctx, d)
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, c := range list {
		leftover := c.RunnerGone || !c.Deadline.IsZero() && c.Deadline.Before(now)
		if !leftover || len(jobs) > 0 && !slices.Contains(jobs, c.Job) {
			continue
		}
		if err := d.Delete(ctx, c.Name); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", c.Name, err))
			continue
		}
		deleted = append(deleted, c.Name)
	}
	return deleted, errors.Join(errs...)
}
