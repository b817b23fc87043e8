package cmdutil

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lxkit/lxkit/driver"
	"github.com/spf13/cobra"
)

// FlagError is a usage error: a bad flag or argument. The CLI prints it
// with a usage hint and exits with status 2.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a *FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitError makes the CLI exit with Code: the exit status of a command run
// in a container. The CLI prints Err when it is not nil, and nothing else.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "exit status " + strconv.Itoa(e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// IsUsage reports whether err is a usage error.
func IsUsage(err error) bool {
	var fe *FlagError
	return errors.As(err, &fe)
}

// ExactArgs is cobra.ExactArgs with a usage error that says what is missing.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return FlagErrorf("%s: expected %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// MinimumArgs is cobra.MinimumNArgs with a usage error.
func MinimumArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("%s: expected %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// RangeArgs is cobra.RangeArgs with a usage error.
func RangeArgs(low, high int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < low || len(args) > high {
			return FlagErrorf("%s: expected %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// MaximumArgs is cobra.MaximumNArgs with a usage error.
func MaximumArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return FlagErrorf("%s: expected %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// ValidateNames checks instance names before anything is sent, so that a
// bad name in a list stops the command before it acts on the others.
func ValidateNames(names ...string) error {
	for _, n := range names {
		for _, part := range strings.Split(n, "/") {
			if err := driver.ValidateName(part); err != nil {
				return err
			}
		}
	}
	return nil
}
