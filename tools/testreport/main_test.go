package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA/sub","Output":"    a_test.go:9: boom\n"}
{"Action":"fail","Package":"p","Test":"TestA/sub","Elapsed":2.5}
{"Action":"fail","Package":"p","Test":"TestA","Elapsed":2.6}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: figure: 0 lost\n"}
{"Action":"pass","Package":"p","Test":"TestB","Elapsed":0.5}
{"Action":"output","Package":"p","Output":"FAIL\tp\t3.1s\n"}
{"Action":"fail","Package":"p","Elapsed":3.1}
# p [build failed]
`
	r := &report{output: map[testKey][]string{}, elapsed: map[testKey]float64{}, parents: map[testKey]bool{}}
	var out bytes.Buffer
	if err := r.read(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	r.summary(&out, 10, 3*time.Second)
	got := out.String()
	for _, want := range []string{
		"--- FAIL: TestA/sub (p, 2.50s)\n    a_test.go:9: boom\n",
		"FAIL\tp\t3.1s\n",
		"# p [build failed]\n",
		"Figures:\n  p TestB: 0 lost\n",
		"The 2 slowest tests:\n     2.50s  p  TestA/sub\n     0.50s  p  TestB\n",
		"1 packages, 3 tests run, 2 tests and 1 packages FAILED, in 3s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}
