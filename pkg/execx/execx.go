package execx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Cmd describes one run.
type Cmd struct {
	Name string
	Args []string
	Dir  string
	// Env is the complete environment; nil means the current process's.
	Env    []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Timeout bounds the run (0: only the context does), so a hung daemon or a prompt
	// nobody answers fails the command instead of hanging it.
	Timeout time.Duration
}

// ErrTimeout wraps a run that outlived its Timeout.
var ErrTimeout = errors.New("did not finish in time")

// ErrNotFound wraps the error when the program is not on PATH.
var ErrNotFound = errors.New("program not found")

// ExitError is a run that finished with a non-zero status.
type ExitError struct {
	Cmd    string
	Code   int
	Stderr string // the tail of what it printed on stderr, when captured
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", e.Cmd, e.Code)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Run runs c to completion. A cancelled context stops the program: SIGTERM first, SIGKILL
// after a short grace, so a child like docker compose can clean up.
func Run(ctx context.Context, c Cmd) error {
	if _, err := exec.LookPath(c.Name); err != nil {
		return fmt.Errorf("%s: %w", c.Name, ErrNotFound)
	}
	parent := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	var tail tailBuffer
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, &tail)
	} else {
		cmd.Stderr = &tail
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if parent.Err() == nil && ctx.Err() != nil {
		return fmt.Errorf("%s: %w (%s)", describe(c), ErrTimeout, c.Timeout)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", c.Name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Cmd: describe(c), Code: ee.ExitCode(), Stderr: tail.String()}
	}
	return fmt.Errorf("%s: %w", describe(c), err)
}

// Output runs c and returns its standard output; stderr is kept for the error.
func Output(ctx context.Context, c Cmd) (string, error) {
	var out bytes.Buffer
	c.Stdout = &out
	err := Run(ctx, c)
	return out.String(), err
}

func describe(c Cmd) string {
	parts := append([]string{c.Name}, c.Args...)
	if len(parts) > 4 {
		parts = append(parts[:4], "...")
	}
	return strings.Join(parts, " ")
}

// tailBuffer keeps the last few hundred bytes written, trimmed to one line for errors.
type tailBuffer struct{ b []byte }

const tailMax = 400

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax*4 {
		t.b = t.b[len(t.b)-tailMax:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimSpace(string(t.b))
	if len(s) > tailMax {
		s = s[len(s)-tailMax:]
	}
	return strings.Join(strings.Fields(s), " ")
}

// LookupEnv is the value key has for a command run with env, as exec.Cmd reads it: the
// last entry for key wins, and a nil env is this process's own environment.
func LookupEnv(env []string, key string) (string, bool) {
	if env == nil {
		return os.LookupEnv(key)
	}
	val, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}
