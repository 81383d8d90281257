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

// Lifecycles a Command can belong to; the same words as config.Kind.
const (
	Sandbox   = "sandbox"
	LocalProd = "local-prod"
)

// Command is one of the tool's own operations, as a remedy points to it.
type Command struct {
	Kind   string // Sandbox or LocalProd
	Action string // "create", "up", "doctor", ... (the operation, not a target name)
	Args   string // what follows, e.g. "<name>" or "-force"
}

// Remedy is what to do about a failure: Text, in which each %s stands for the next of
// Commands as the top layer spells it.
type Remedy struct {
	Text     string
	Commands []Command
}

// Say is a remedy of plain text.
func Say(text string) Remedy { return Remedy{Text: text} }

// Run is a remedy whose text names commands ("Run: %s").
func Run(text string, cmds ...Command) Remedy { return Remedy{Text: text, Commands: cmds} }

// Do names one of the tool's commands.
func Do(kind, action, args string) Command { return Command{Kind: kind, Action: action, Args: args} }

// IsZero reports a remedy with nothing to say.
func (r Remedy) IsZero() bool { return r.Text == "" && len(r.Commands) == 0 }

// Render spells the remedy with spell turning each command into what a user types.
func (r Remedy) Render(spell func(Command) string) string {
	if len(r.Commands) == 0 {
		return r.Text
	}
	args := make([]any, len(r.Commands))
	for i, c := range r.Commands {
		args[i] = spell(c)
	}
	return fmt.Sprintf(r.Text, args...)
}

// Error is a failure with an exit code and a remedy.
type Error struct {
	Code int
	Err  error
	Fix  Remedy
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New makes a failure with code and remedy from a message.
func New(code int, fix Remedy, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...), Fix: fix}
}

// With gives err a code and remedy, keeping it unwrappable. An err that already carries
// a remedy keeps its own code and remedy when no new remedy is given.
func With(code int, fix Remedy, err error) error {
	if err == nil {
		return nil
	}
	var inner *Error
	if fix.IsZero() && errors.As(err, &inner) {
		return err
	}
	return &Error{Code: code, Err: err, Fix: fix}
}

// Code is err's exit code: its own, or 1.
func Code(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return codeFallback
}

// FixOf is err's remedy, if any.
func FixOf(err error) Remedy {
	var e *Error
	if errors.As(err, &e) {
		return e.Fix
	}
	return Remedy{}
}

// Message is err as every front end shows it: the error, then the remedy spelled with
// spell on a "Hint: " line of its own. The targets put it under Mage's "Error: "; the MCP
// server puts it in a refused tool call, so an agent reads what a person would.
func Message(err error, spell func(Command) string) string {
	msg := err.Error()
	if fix := FixOf(err); !fix.IsZero() {
		msg += "\nHint: " + fix.Render(spell)
	}
	return msg
}
