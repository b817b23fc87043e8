package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestOutputTailIsBounded(t *testing.T) {
	var live bytes.Buffer
	o := NewOutput(Command{Args: []string{"x"}, Stdout: &live})
	big := strings.Repeat("a", 3*TailSize) + "THE END"
	for i := 0; i < len(big); i += 1000 {
		o.Stdout().Write([]byte(big[i:min(i+1000, len(big))]))
	}
	res := o.Result(2)
	if live.String() != big {
		t.Errorf("live writer got %d bytes; want %d", live.Len(), len(big))
	}
	if len(res.Tail) != TailSize || !strings.HasSuffix(string(res.Tail), "THE END") {
		t.Errorf("tail has %d bytes ending %q", len(res.Tail), res.Tail[len(res.Tail)-7:])
	}
	if res.Stdout != nil {
		t.Errorf("output captured without Capture")
	}
	var ee *ExitError
	if err := res.Err(); !errors.As(err, &ee) || ee.Code != 2 {
		t.Errorf("Err() = %v", err)
	}
}

func TestOutputPrefersStderrTail(t *testing.T) {
	o := NewOutput(Command{Args: []string{"x"}, Capture: true})
	o.Stdout().Write([]byte("out"))
	o.Stderr().Write([]byte("boom"))
	res := o.Result(1)
	if string(res.Tail) != "boom" || string(res.Stdout) != "out" || string(res.Stderr) != "boom" {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(res.Err().Error(), "boom") {
		t.Errorf("error %q lacks the stderr tail", res.Err())
	}
	if (&Result{ExitCode: 0}).Err() != nil {
		t.Errorf("exit 0 is not an error")
	}
}
