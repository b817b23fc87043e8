package marker

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// marked lists this machine's processes that carry m.
func marked(t *testing.T, m string) []string {
	t.Helper()
	var pids []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		env, err := os.ReadFile("/proc/" + d.Name() + "/environ")
		if err == nil && bytes.Contains(env, []byte(Var+"="+m+"\x00")) {
			pids = append(pids, d.Name())
		}
	}
	return pids
}

// TestKillReachesChildrenForkedMeanwhile: a shell that forks without
// pause has children born between the search and the signal; a KILL
// leaves none of them.
func TestKillReachesChildrenForkedMeanwhile(t *testing.T) {
	for i := 0; i < 2; i++ {
		m := New()
		forker := exec.Command("/bin/sh", "-c", "while :; do sleep 600 & done")
		forker.Env = append(os.Environ(), Var+"="+m)
		if err := forker.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = forker.Wait() }()
		time.Sleep(100 * time.Millisecond)
		argv := SignalArgv(m, "KILL")
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Fatalf("sweep: %v", err)
		}
		if len(strings.Fields(string(out))) < 2 {
			t.Errorf("sweep signalled %q, want the shell and its children", out)
		}
		time.Sleep(50 * time.Millisecond)
		if left := marked(t, m); len(left) > 0 {
			_ = exec.Command("pkill", "-KILL", "-f", "^sleep 600$").Run()
			t.Fatalf("round %d: %d marked processes outlived the KILL: %v", i, len(left), left)
		}
	}
}
