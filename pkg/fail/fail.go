// Package fail carries what the user must see when a command fails: one line saying what
// failed, an optional line saying what to do, and the documented exit code.
package fail

import (
	"errors"
	"fmt"
)

// Exit codes of the contract.
const (
	CodeError    = 1 // bad input, refused, an external command failed
	CodeUsage    = 2 // usage (also Mage's own)
	CodePorts    = 3 // port conflict
	CodeGate     = 4 // startability gate failed
	codeFallback = CodeError
)

// Error is a failure with an exit code and a hint.
type Error struct {
	Code int
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New makes a failure with code and hint from a message.
func New(code int, hint, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...), Hint: hint}
}

// With gives err a code and hint, keeping it unwrappable. An err that already carries
// a hint keeps its own code and hint when no new hint is given.
func With(code int, hint string, err error) error {
	if err == nil {
		return nil
	}
	var inner *Error
	if hint == "" && errors.As(err, &inner) {
		return err
	}
	return &Error{Code: code, Err: err, Hint: hint}
}

// Code is err's exit code: its own, or 1.
func Code(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return codeFallback
}

// Hint is err's hint, if any.
func Hint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
