//go:build race

package command_test

// raceDetector: this test binary, which the file tests run as lxkit, is
// built with -race, which takes several times the memory.
const raceDetector = true
