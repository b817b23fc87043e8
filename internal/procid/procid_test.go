package procid

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestSelfAndGone(t *testing.T) {
	id := Self()
	if strings.Count(id, "/") != 2 {
		t.Fatalf("Self() = %q", id)
	}
	if Gone(id) {
		t.Errorf("this process is gone: %s", id)
	}
	// A process that ended.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(id, "/")
	if !Gone(parts[0] + "/" + strconv.Itoa(cmd.ProcessState.Pid()) + "/1") {
		t.Errorf("an ended process is not gone")
	}
	// Our own PID with another start time: a reused PID.
	if !Gone(parts[0] + "/" + parts[1] + "/1") {
		t.Errorf("a reused PID is not gone")
	}
	// Another machine's or boot's, or no ID: cannot tell.
	for _, other := range []string{"other-boot/" + parts[1] + "/" + parts[2], "", "x", "a/b/c"} {
		if Gone(other) {
			t.Errorf("Gone(%q) = true, want false (cannot tell)", other)
		}
	}
}
