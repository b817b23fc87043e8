package clusters

import (
	"testing"

	"github.com/lxkit/lxkit/testkit/testcmd"
)

// TestMain lets the tests run lxkit as a command (testcmd.Run).
func TestMain(m *testing.M) { testcmd.Main(m) }
