package hostapi

import (
	"errors"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

// The daemons' own words, as they answered.
func TestQuirks(t *testing.T) {
	cases := []struct {
		q    Quirk
		msg  string
		want bool
	}{
		{CreateRace, `Creating instance: Failed creating instance record: Instance is busy running a "create" operation`, true},
		{CreateRace, `Failed creating instance record: Add instance info to the database: Failed to create "instances" entry: UNIQUE constraint failed: instances.project_id, instances.name`, true},
		{CreateRace, `Creating instance: Failed instance creation: Failed creating instance from image: Unpack failed`, false},
		{Busy, `Instance is busy running a "stop" operation`, true},
		{Busy, `Instance not found`, false},
		{UpdateRace, `Failed to create instance update operation: A matching non-reusable operation has now succeeded`, true},
		{StartGaveUp, `Failed to run: /usr/bin/lxd forkstart lxkit-x /var/lib/lxd/containers /var/log/lxd/lxkit-x/lxc.conf: exit status 1`, true},
		{StartGaveUp, `The instance is already running`, true},
		{StartGaveUp, `Failed to start device "eth0"`, false},
		{RootMissing, `Failed to handle idmapped storage: Failed expanding symlinks of "": lstat /var/lib/incus/containers/g2: no such file or directory`, true},
		{RootMissing, `Failed to handle idmapped storage: permission denied`, false},
		{RootMissing, `Starting instance: Failed getting instance pool: Instance storage pool not found`, true},
		{RootMissing, `Storage pool not found`, false},
		{MadeMeanwhile, `Error inserting "p" into database: The profile already exists`, true},
		{MadeMeanwhile, `Snapshot "s0" already in use`, true},
		{MadeMeanwhile, `Failed to create "instances_snapshots" entry: UNIQUE constraint failed: instances_snapshots.instance_id, instances_snapshots.name`, true},
		{MadeMeanwhile, `Failed creating instance snapshot record "s0": Instance is busy running a "create" operation`, true},
		{MadeMeanwhile, `Instance is busy running a "stop" operation`, false},
		{MadeMeanwhile, `context deadline exceeded`, false},
		{MemberDown, `Missing event connection with target cluster member`, true},
		{MemberDown, `Server isn't ready yet`, true},
		{MemberDown, `Failed to connect to cluster member`, false},
		{TokenElsewhere, `Bad certificate add operation data`, true},
		{TokenElsewhere, `No matching certificate add operation found`, false},
		{CommandNotFound, `Command not found`, true},
		{CommandNotFound, `Instance not found`, false},
		{FileServerHiccup, `Failed getting instance SFTP connection: dial unix: connection refused`, true},
		{FileServerHiccup, `read unix @->/var/lib/lxd/devlxd/forkfile.sock: connection reset by peer`, true},
		{FileServerHiccup, `file does not exist`, false},
		{InUse, `The profile is currently in use`, true},
		{InUse, `Profile not found`, false},
		{StateRace, "Invalid PID '\uFFFD'", true},
		{StateRace, `Instance not found`, false},
		{PullCut, `lxkit-cli-65040b6d:/tmp/.lxkit-exec-840f72df504c279b.err: EOF`, true},
		{PullCut, `file does not exist`, false},
		{DefinedOnMember, `The storage pool already defined on member "m1"`, true},
		{DefinedOnMember, `The network is already defined on member "m1"`, true},
		{DefinedOnMember, `Network "qn" is already defined on member "m1"`, true},
		{DefinedOnMember, `Pool not pending on any node (use --target <node> first)`, false},
		{ConsoleEmpty, `open : no such file or directory`, true},
		{ConsoleEmpty, `open /var/log/lxd/lxkit-x/console.log: no such file or directory`, true},
		{ConsoleEmpty, `Instance not found`, false},
		{ConsoleEmpty, `open /var/log/lxd/lxkit-x/lxc.log: no such file or directory`, false},
	}
	for _, c := range cases {
		err := errdefs.Wrap(errdefs.ErrInternal, nil, "%s", c.msg)
		if got := c.q.In(err); got != c.want {
			t.Errorf("%q: In = %v, want %v", c.msg, got, c.want)
		}
		if c.q.In(errors.Join(errors.New("wrapped"), err)) != c.want {
			t.Errorf("%q wrapped: not recognised the same", c.msg)
		}
	}
	if CreateRace.In(nil) {
		t.Error("nil carries a quirk")
	}
}

// The states Incus 6.0.4 showed while a stop was finished by its hook.
func TestStopUnfinished(t *testing.T) {
	for _, c := range []struct {
		status, power string
		want          bool
	}{
		{"Stopped", "RUNNING", true}, // init gone, the hook not run
		{"Running", "STOPPED", false},
		{"Stopped", "STOPPED", false},
		{"Stopped", "", false}, // never started
		{"Running", "RUNNING", false},
	} {
		if got := StopUnfinished(c.status, map[string]string{"volatile.last_state.power": c.power}); got != c.want {
			t.Errorf("%s with power %q: %v, want %v", c.status, c.power, got, c.want)
		}
	}
}

// An ephemeral container that reads "Stopped" is yet to be deleted; a
// lasting one is stopped.
func TestEphemeralOutlivesStop(t *testing.T) {
	for _, c := range []struct {
		status    string
		ephemeral bool
		want      bool
	}{
		{"Stopped", true, true},
		{"STOPPED", true, true},
		{"Running", true, false},
		{"Stopped", false, false},
	} {
		if got := EphemeralOutlivesStop(c.status, c.ephemeral); got != c.want {
			t.Errorf("%s, ephemeral %v: %v, want %v", c.status, c.ephemeral, got, c.want)
		}
	}
}
