// Command testreport reads `go test -json` on its standard input and
// prints what a person wants from a long test run: each package's result
// as `go test` prints it, the whole output of every test that failed, and
// at the end the figures the tests logged (lines with "figure: "), the
// slowest tests and the total time. It exits 1 when a test
// or a package failed, or when the input holds no result at all.
//
//	go test -json ./... | go run ./tools/testreport -slowest 10
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type testKey struct{ pkg, test string }

type report struct {
	output   map[testKey][]string // what each test printed, for its failure
	elapsed  map[testKey]float64
	parents  map[testKey]bool // tests that have subtests
	failed   []testKey
	figures  []string // "package Test: what", as logged
	pkgFails int
	pkgs     int
}

func main() {
	slowest := flag.Int("slowest", 10, "how many of the slowest tests to list")
	flag.Parse()
	start := time.Now()
	r := &report{output: map[testKey][]string{}, elapsed: map[testKey]float64{}, parents: map[testKey]bool{}}
	if err := r.read(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	r.summary(os.Stdout, *slowest, time.Since(start))
	if r.pkgs == 0 || r.pkgFails > 0 || len(r.failed) > 0 {
		os.Exit(1)
	}
}

// read consumes the events, printing package results as they come.
func (r *report) read(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(out, "%s\n", line) // a build error, say: as it is
			continue
		}
		k := testKey{e.Package, e.Test}
		switch {
		case e.Action == "build-output":
			fmt.Fprint(out, e.Output)
		case e.Test == "" && e.Action == "output":
			// The package's own lines: ok/FAIL and build output.
			if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "--- ") &&
				e.Output != "PASS\n" && e.Output != "FAIL\n" && !strings.HasPrefix(e.Output, "    ---") {
				fmt.Fprint(out, e.Output)
			}
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			r.pkgs++
			if e.Action == "fail" {
				r.pkgFails++
			}
		case e.Action == "output":
			r.output[k] = append(r.output[k], e.Output)
			if _, fig, ok := strings.Cut(e.Output, "figure: "); ok {
				r.figures = append(r.figures, fmt.Sprintf("%s %s: %s", short(e.Package), e.Test, strings.TrimSpace(fig)))
			}
		case e.Action == "pass" || e.Action == "fail":
			r.elapsed[k] = e.Elapsed
			if i := strings.LastIndex(e.Test, "/"); i > 0 {
				r.parents[testKey{e.Package, e.Test[:i]}] = true
			}
			if e.Action == "fail" {
				r.failed = append(r.failed, k)
				fmt.Fprintf(out, "--- FAIL: %s (%s, %.2fs)\n%s", e.Test, short(e.Package), e.Elapsed, strings.Join(r.output[k], ""))
			}
			delete(r.output, k)
		}
	}
	return sc.Err()
}

// summary prints the slowest tests that have no subtests, and the total.
func (r *report) summary(out io.Writer, n int, took time.Duration) {
	var leaves []testKey
	for k := range r.elapsed {
		if !r.parents[k] {
			leaves = append(leaves, k)
		}
	}
	sort.Slice(leaves, func(i, j int) bool { return r.elapsed[leaves[i]] > r.elapsed[leaves[j]] })
	if len(leaves) > n {
		leaves = leaves[:n]
	}
	if len(r.figures) > 0 {
		sort.Strings(r.figures)
		fmt.Fprintf(out, "\nFigures:\n")
		for _, f := range r.figures {
			fmt.Fprintf(out, "  %s\n", f)
		}
	}
	fmt.Fprintf(out, "\nThe %d slowest tests:\n", len(leaves))
	for _, k := range leaves {
		fmt.Fprintf(out, "  %7.2fs  %s  %s\n", r.elapsed[k], short(k.pkg), k.test)
	}
	verdict := "all passed"
	if len(r.failed) > 0 || r.pkgFails > 0 {
		verdict = fmt.Sprintf("%d tests and %d packages FAILED", len(r.failed), r.pkgFails)
	}
	fmt.Fprintf(out, "%d packages, %d tests run, %s, in %s\n", r.pkgs, len(r.elapsed), verdict, took.Round(time.Second))
}

func short(pkg string) string { return strings.TrimPrefix(pkg, "github.com/lxkit/lxkit/") }
