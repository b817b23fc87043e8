package cmdutil

import (
	"bytes"
	"errors"
	"testing"
)

func TestWriteDiff(t *testing.T) {
	type obj struct {
		Config  map[string]string            `json:"config,omitempty"`
		Devices map[string]map[string]string `json:"devices,omitempty"`
	}
	a := obj{
		Config:  map[string]string{"limits.cpu": "1", "limits.memory": "256MiB", "user.a": "x"},
		Devices: map[string]map[string]string{"root": {"type": "disk", "path": "/", "pool": "default"}},
	}
	b := obj{
		Config:  map[string]string{"limits.cpu": "2", "limits.memory": "256MiB", "user.a": "x", "user.b": "y: z"},
		Devices: map[string]map[string]string{"root": {"type": "disk", "path": "/", "pool": "default"}},
	}
	var out bytes.Buffer
	differ, err := WriteDiff(&out, "web (instance)", a, "web (app.yaml)", b)
	if err != nil || !differ {
		t.Fatalf("differ %v, err %v", differ, err)
	}
	want := `--- web (instance)
+++ web (app.yaml)
@@ -1,7 +1,8 @@
 config:
-  limits.cpu: "1"
+  limits.cpu: "2"
   limits.memory: 256MiB
   user.a: x
+  user.b: 'y: z'
 devices:
   root:
     path: /
`
	if out.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", out.String(), want)
	}

	// The same: nothing written.
	out.Reset()
	differ, err = WriteDiff(&out, "a", a, "b", a)
	if err != nil || differ || out.Len() != 0 {
		t.Errorf("same: differ %v, err %v, output %q", differ, err, out.String())
	}

	// Empty against something: every line added.
	out.Reset()
	if differ, _ := WriteDiff(&out, "a", obj{}, "b", obj{Config: map[string]string{"k": "v"}}); !differ {
		t.Error("empty against something: no difference")
	}
	if want := "--- a\n+++ b\n@@ -1,1 +1,2 @@\n-{}\n+config:\n+  k: v\n"; out.String() != want {
		t.Errorf("empty against something:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestTrouble(t *testing.T) {
	if Trouble(nil) != nil {
		t.Error("Trouble(nil) is not nil")
	}
	var exit *ExitError
	if err := Trouble(errors.New("boom")); !errors.As(err, &exit) || exit.Code != 2 || err.Error() != "boom" {
		t.Errorf("Trouble: %#v", err)
	}
	if err := Trouble(FlagErrorf("bad")); !IsUsage(err) || errors.As(err, &exit) {
		t.Errorf("a usage error stays one: %#v", err)
	}
}
