package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
)

// Event is a point in an instance's lifecycle where hooks run.
type Event string

const (
	PostCreate Event = "post-create" // after create registered the new worktree
	PreUp      Event = "pre-up"      // before compose starts the stack
	PostUp     Event = "post-up"     // after the startability gate passed
	PreDown    Event = "pre-down"    // before compose stops the stack
	PreDestroy Event = "pre-destroy" // before destroy takes anything apart
)

// Events are every event, in lifecycle order.
var Events = []Event{PostCreate, PreUp, PostUp, PreDown, PreDestroy}

// IsPre reports an event whose failing hook stops the action.
func (e Event) IsPre() bool { return strings.HasPrefix(string(e), "pre-") }

// Hook is one command of the configuration table for an event.
type Hook struct {
	Event   Event
	Name    string // shown in output and errors (default: the command)
	Command string
	Args    []string
	Timeout time.Duration // 0: the Options' default
}

// Dir is where a repository keeps hook executables, relative to the instance directory.
const Dir = ".sandbox/hooks"

// DefaultTimeout bounds a hook that sets none.
const DefaultTimeout = 2 * time.Minute

// Options say which hooks run, where and with what.
type Options struct {
	Event      Event
	Dir        string            // the instance directory: the hooks' working directory
	Env        map[string]string // the instance's variables; never secrets
	Base       []string          // the caller's environment
	Configured []Hook            // the table's hooks (those of other events are ignored)
	Timeout    time.Duration     // per hook, when the hook sets none (0: DefaultTimeout)
	Stdout     io.Writer         // each output line, prefixed with the hook's name
	Stderr     io.Writer
}

// Result is one hook that ran.
type Result struct {
	Name     string
	Event    Event
	Duration time.Duration
	Err      error
}

// Error is a hook that failed: it names the hook, its event and why.
type Error struct {
	Hook  string
	Event Event
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("%s hook %s failed: %v", e.Event, e.Hook, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Find lists the hooks of event: the table's first, then the executable at
// <dir>/.sandbox/hooks/<event>, then those in <event>.d/ in name order. A file there that
// is not executable is an error naming it.
func Find(dir string, event Event, configured []Hook) ([]Hook, error) {
	var out []Hook
	for _, h := range configured {
		if h.Event == event {
			if h.Name == "" {
				h.Name = h.Command
			}
			out = append(out, h)
		}
	}
	base := filepath.Join(dir, Dir, string(event))
	files := []string{}
	if fi, err := os.Stat(base); err == nil && !fi.IsDir() {
		files = append(files, base)
	}
	if entries, err := os.ReadDir(base + ".d"); err == nil {
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, filepath.Join(base+".d", n))
		}
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, f)
		if fi.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("hook %s is not executable (chmod +x %s)", rel, f)
		}
		out = append(out, Hook{Event: event, Name: rel, Command: f})
	}
	return out, nil
}

// Run runs the event's hooks in order and stops at the first that fails, returning the
// results so far and an *Error naming it. No hooks: no results, no error.
func Run(ctx context.Context, o Options) ([]Result, error) {
	list, err := Find(o.Dir, o.Event, o.Configured)
	if err != nil {
		return nil, &Error{Hook: string(o.Event), Event: o.Event, Err: err}
	}
	env := append(append([]string{}, o.Base...), "SANDBOX_HOOK_EVENT="+string(o.Event))
	keys := make([]string, 0, len(o.Env))
	for k := range o.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+o.Env[k])
	}
	var results []Result
	for _, h := range list {
		timeout := h.Timeout
		if timeout <= 0 {
			timeout = o.Timeout
		}
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		stdout, stderr := prefixed(o.Stdout, h.Name), prefixed(o.Stderr, h.Name)
		start := time.Now()
		err := execx.Run(ctx, execx.Cmd{Name: h.Command, Args: h.Args, Dir: o.Dir, Env: env, Timeout: timeout, Stdout: stdout, Stderr: stderr})
		stdout.flush()
		stderr.flush()
		r := Result{Name: h.Name, Event: o.Event, Duration: time.Since(start), Err: err}
		results = append(results, r)
		if err != nil {
			if errors.Is(err, execx.ErrTimeout) {
				err = fmt.Errorf("timeout: still running after %s, stopped", timeout)
			}
			return results, &Error{Hook: h.Name, Event: o.Event, Err: err}
		}
	}
	return results, nil
}

// prefixer writes whole lines to w, each prefixed with the hook's name.
type prefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func prefixed(w io.Writer, name string) *prefixer {
	if w == nil {
		w = io.Discard
	}
	return &prefixer{w: w, prefix: "  [" + name + "] "}
}

func (p *prefixer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixer) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}
