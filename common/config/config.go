// Package config marks the errors that come from a daemon's configuration
// (a flag value out of range, an unknown name), so the entry point can tell
// a user's mistake (exit status 2) from a failure while running (1).
package config

import "errors"

// ErrInvalid is what errors.Is finds in every error that Invalid made.
var ErrInvalid = errors.New("invalid configuration")

// Invalid marks err as a configuration mistake; its message is unchanged.
func Invalid(err error) error { return invalid{err} }

type invalid struct{ err error }

func (e invalid) Error() string        { return e.err.Error() }
func (e invalid) Unwrap() error        { return e.err }
func (e invalid) Is(target error) bool { return target == ErrInvalid }
