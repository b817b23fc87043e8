package instance

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
)

func TestCPUTime(t *testing.T) {
	for ns, want := range map[int64]string{
		0:                               "0s",
		-5:                              "0s",
		400_000:                         "0s",
		104_400_000:                     "104ms",
		int64(12345 * time.Millisecond): "12.35s",
		int64(59999 * time.Millisecond): "1m0s",
		int64(time.Hour + 2*time.Minute + 3400*time.Millisecond): "1h2m3s",
	} {
		if got := cpuTime(ns); got != want {
			t.Errorf("cpuTime(%d) = %q; want %q", ns, got, want)
		}
	}
}

func TestWithVersion(t *testing.T) {
	for _, c := range [][3]string{
		{"dir", "1", "dir 1"},
		{"dir | zfs", "1 | 2.1.11", "dir 1, zfs 2.1.11"},
		{"dir", "", "dir"},
		{"dir | zfs", "1", "dir | zfs (1)"},
	} {
		if got := withVersion(c[0], c[1]); got != c[2] {
			t.Errorf("withVersion(%q, %q) = %q; want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestWriteInstanceInfo(t *testing.T) {
	created := time.Date(2026, 12, 7, 5, 46, 33, 0, time.UTC)
	log := "lxc web 20261207 WARN one"
	running := &InstanceInfo{
		InstanceFull: api.InstanceFull{
			Instance: api.Instance{
				InstancePut: api.InstancePut{Architecture: "x86_64", Profiles: []string{"default", "web"}},
				Name:        "web", Status: "Running", Type: "container", Location: "m2",
				CreatedAt: created, LastUsedAt: time.Unix(0, 0),
			},
			State: &api.InstanceState{
				Status: "Running", Pid: 42, Processes: 3,
				CPU:    api.InstanceStateCPU{Usage: 1_500_000_000},
				Memory: api.InstanceStateMemory{Usage: 1536, UsagePeak: 2048},
				Disk:   map[string]api.InstanceStateDisk{"root": {Usage: 3 << 20}},
				Network: map[string]api.InstanceStateNetwork{
					"lo":   {Type: "loopback", State: "up", Mtu: 65536, Addresses: []api.InstanceStateNetworkAddress{{Family: "inet", Address: "127.0.0.1", Netmask: "8", Scope: "local"}}},
					"eth0": {Type: "broadcast", State: "up", Hwaddr: "00:16:3e:00:00:01", Counters: api.InstanceStateNetworkCounters{BytesReceived: 4434, PacketsReceived: 22}},
				},
			},
			Snapshots: []api.InstanceSnapshot{{Name: "s1", CreatedAt: created, Stateful: true}},
		},
		Log: &log,
	}
	var buf bytes.Buffer
	if err := writeInstanceInfo(&buf, running); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Name:           web\n",
		"Status:         Running\n",
		"Location:       m2\n",
		"Last used:      never\n",
		"Profiles:       default, web\n",
		"PID:            42\n",
		"\nResources:\n",
		"  CPU time:    1.5s\n",
		"  Memory:      1.5 KiB (peak 2.0 KiB)\n",
		"  Disk root:   3.0 MiB\n",
		"  Network:\n    eth0:\n",
		"      Received:      4.3 KiB (22 packets)\n",
		"    lo:\n",
		"      inet:       127.0.0.1/8 (local)\n",
		"\nSnapshots:\n",
		" true\n",
		"\nLog:\n\nlxc web 20261207 WARN one\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Index(out, "    eth0:") > strings.Index(out, "    lo:") {
		t.Errorf("interfaces not in order of name:\n%s", out)
	}

	stopped := &InstanceInfo{InstanceFull: api.InstanceFull{
		Instance: api.Instance{Name: "db", Status: "Stopped", Location: "none", CreatedAt: created},
		State:    &api.InstanceState{Status: "Stopped"},
	}}
	buf.Reset()
	if err := writeInstanceInfo(&buf, stopped); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	for _, unwanted := range []string{"PID:", "Resources:", "Snapshots:", "Log:", "Location:"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("%q in the info of a stopped standalone container:\n%s", unwanted, out)
		}
	}
	if !strings.Contains(out, "Type:           container\n") {
		t.Errorf("an instance of no type is not a container:\n%s", out)
	}
}
