package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

var (
	withClusters = flag.Bool("clusters", true, "also benchmark the clusters of `make cluster`")
	fleetSize    = flag.Int("fleet", 24, "instances of the spread fleet")
	listSize     = flag.Int("list", 100, "instances listed on a cluster")
	onlyClusters = flag.Bool("only-clusters", false, "benchmark the clusters alone")
)

// clusterParallel is how many launches each way runs at once.
const clusterParallel = 4

// benchCluster times, on the cluster of the remote (made by make
// cluster), `lxkit apply` of a fleet spread over its members against the
// same fleet applied to the standalone host at socket and against a
// parallel shell loop of `lxc launch --target` on the cluster, with the
// instances each member got; and `lxkit list` of many instances against
// `lxc list`. cli is lxc or incus, with the remote of the same name.
func benchCluster(remote, socket, cli string) []row {
	work, err := os.MkdirTemp(shm(), "lxkit-bench-cluster-")
	check(err)
	defer os.RemoveAll(work)
	prefix := fmt.Sprintf("lxkit-bc%d", os.Getpid())
	names := func(tag string, n int) []string { return benchNames(prefix, tag, n) }
	deleteAll := func(env []string, where string, list []string) {
		shell(env, "printf '%s\\n' "+strings.Join(list, " ")+" | xargs -P "+fmt.Sprint(clusterParallel)+" -I@ "+cli+" delete -f "+where+"@")
	}
	fleetFile := func(name string, list []string, spread bool) string { return writeFleet(work, name, list, spread) }
	env, hostEnv := os.Environ(), cliEnv(cli, socket)
	par := fmt.Sprint(clusterParallel)

	spread, single, loop := names("s", *fleetSize), names("h", *fleetSize), names("l", *fleetSize)
	spreadFile, singleFile := fleetFile(prefix+"-s", spread, true), fleetFile(prefix+"-h", single, false)
	atExit = func() {
		deleteAll(env, remote+":", append(append([]string{}, spread...), loop...))
		deleteAll(hostEnv, "", single)
	}
	tSpread := timeIt(func() {
		shell(env, *lxkitBin+" -q --host "+remote+" apply --parallel "+par+" "+spreadFile+" >/dev/null")
	})
	perMember := map[string]int{}
	var listed []struct {
		Location string `json:"location"`
	}
	check(json.Unmarshal(capture(env, *lxkitBin+" --host "+remote+" list "+prefix+"-s --format json"), &listed))
	for _, inst := range listed {
		perMember[inst.Location]++
	}
	tSingle := timeIt(func() {
		shell(hostEnv, *lxkitBin+" -q --host "+socket+" apply --parallel "+par+" "+singleFile+" >/dev/null")
	})
	var lines []string
	for i, n := range loop {
		lines = append(lines, fmt.Sprintf("%s m%d", n, i%3+1))
	}
	tLoop := timeIt(func() {
		shell(env, "printf '%s\\n' '"+strings.Join(lines, "' '")+"' | xargs -P "+par+" -L1 sh -c '"+cli+" launch "+remote+":testimage "+remote+":$0 --target $1 -q'")
	})
	deleteAll(hostEnv, "", single)

	// list: the two fleets on the cluster, still running, and enough
	// stopped instances made beside them to list *listSize.
	running := append(append([]string{}, spread...), loop...)
	many := names("n", max(*listSize-len(running), 0))
	var made []string
	for i, n := range many {
		made = append(made, fmt.Sprintf("%s m%d", n, i%3+1))
	}
	all := append(running, many...)
	atExit = func() { deleteAll(env, remote+":", all) }
	if len(made) > 0 {
		shell(env, "printf '%s\\n' '"+strings.Join(made, "' '")+"' | xargs -P "+par+" -L1 sh -c '"+cli+" init "+remote+":testimage "+remote+":$0 --target $1 -q'")
	}
	m := medians(*runs/2,
		func() { shell(env, *lxkitBin+" --host "+remote+" list "+prefix+" >/dev/null") },
		func() { shell(env, cli+" list "+remote+": "+prefix+" >/dev/null") },
	)
	deleteAll(env, remote+":", all)
	atExit = func() {}

	counts := fmt.Sprintf("m1 %d, m2 %d, m3 %d", perMember["m1"], perMember["m2"], perMember["m3"])
	even := perMember["m1"] == *fleetSize/3 && perMember["m2"] == *fleetSize/3 && perMember["m3"] == *fleetSize/3
	return []row{
		compare(fmt.Sprintf("`lxkit apply --parallel %d` of a %d-instance fleet spread over 3 members, against the same fleet on one host", clusterParallel, *fleetSize), tSpread, tSingle, "report", true),
		compare(fmt.Sprintf("the same spread apply, against a `%s launch --target` loop on the cluster, %d at a time", cli, clusterParallel), tSpread, tLoop, "<= 1.0", tSpread <= tLoop),
		{what: "instances per member after the spread apply", lxkit: counts, base: "-", ratio: "-", goal: "even", met: yes(even)},
		compare(fmt.Sprintf("`lxkit list` of %d instances on the cluster (%d running, %d stopped), against `%s list`", len(all), len(running), len(many), cli), m[0], m[1], "<= 1.0", m[0] <= m[1]),
	}
}

// benchNames returns n instance names: PREFIX-TAG000, PREFIX-TAG001...
func benchNames(prefix, tag string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s-%s%03d", prefix, tag, i))
	}
	return out
}

// writeFleet writes, in a folder name of work, a fleet of the listed
// instances of testimage (spread over a cluster's members or not) and
// returns its file.
func writeFleet(work, name string, list []string, spread bool) string {
	dir := filepath.Join(work, name)
	check(os.MkdirAll(dir, 0o755))
	cfg := "image: testimage\n"
	if spread {
		cfg += "placement: {spread: true}\n"
	}
	check(os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(cfg), 0o644))
	f := "fleet: " + name + "\ninstances:\n"
	for _, n := range list {
		f += "  " + n + ": app.yaml\n"
	}
	p := filepath.Join(dir, "fleet.yaml")
	check(os.WriteFile(p, []byte(f), 0o644))
	return p
}

// capture runs a script and returns its standard output.
func capture(env []string, script string) []byte {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = env
	out, err := cmd.Output()
	check(err)
	return out
}
