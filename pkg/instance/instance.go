// Package instance is the one core every lifecycle goes through: it knows what an
// instance is (a directory with .env.sandbox), how to start one (port check, secrets,
// compose up, startability gate), stop it, report on it and reach its logs and shells.
// Sandboxes and local-prod differ only in the config.Lifecycle they pass in.
package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// Host is the outside world a command runs in, handed in rather than read from globals.
type Host struct {
	Config config.Config
	Home   string   // the user's home directory
	Cwd    string   // where the command was run
	Env    []string // the caller's environment, passed on to children
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	// Terminal is true when In is an interactive terminal (confirmations allowed).
	Terminal bool
	// Progress is true when Out is a terminal (progress bars allowed).
	Progress bool
	// Now returns the current time (fixed in tests).
	Now func() time.Time
	// RegistryWait bounds the wait for another process's registry lock (0: 10 s).
	RegistryWait time.Duration
	// CrashAt names a step at which the process kills itself with SIGKILL. Only the
	// crash-point tests set it, to prove every intermediate state is reported and repaired.
	CrashAt string
}

// Step marks a point between two changes of a multi-step command.
func (h *Host) Step(name string) {
	if h.CrashAt != "" && h.CrashAt == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not deliverable late; never continue past the crash point
	}
}

// Registry is the host's registry store.
func (h *Host) Registry() registry.Store {
	return registry.Store{Path: h.Config.RegistryPath(h.Home), LockWait: h.RegistryWait}
}

// LoadRegistry reads the registry, with the hint a user needs when it cannot.
func (h *Host) LoadRegistry() (*registry.File, error) {
	f, err := h.Registry().Load()
	if err != nil {
		return nil, fail.With(fail.CodeError, "Fix the file or move it away; it was not changed", err)
	}
	return f, nil
}

// UpdateRegistry changes the registry under its lock; errors keep their own code and hint.
func (h *Host) UpdateRegistry(ctx context.Context, fn func(*registry.File) error) error {
	err := h.Registry().Update(ctx, fn)
	if err != nil && fail.Hint(err) == "" && fail.Code(err) == fail.CodeError {
		if errors.Is(err, registry.ErrBusy) {
			return fail.With(fail.CodeError, "Another command is changing the registry; retry when it is done", err)
		}
		return fail.With(fail.CodeError, "Fix the file or move it away; it was not changed", err)
	}
	return err
}

// WorktreeLockPath serializes git worktree changes on this machine.
func (h *Host) WorktreeLockPath() string { return h.Registry().Path + ".worktrees.lock" }

// SharedPath is the host's shared-data directory.
func (h *Host) SharedPath() string { return h.Config.SharedPath(h.Home) }

// Printf writes to Out.
func (h *Host) Printf(format string, args ...any) { fmt.Fprintf(h.Out, format, args...) }

// Instance is one instance directory as its .env.sandbox describes it.
type Instance struct {
	ID   string
	Slot int
	Dir  string
	Vars map[string]string
}

// ErrNotInstance is returned when a directory has no env file.
var ErrNotInstance = errors.New("not an instance directory")

// Load reads the instance at dir and checks the keys everything else relies on.
func Load(cfg config.Config, dir string) (*Instance, error) {
	path := filepath.Join(dir, cfg.EnvFile)
	vars, err := envfile.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fail.With(fail.CodeError,
			"Run it from a sandbox directory, or create one: go tool mage sandbox:create <name>",
			fmt.Errorf("%s: %w (%s not found)", dir, ErrNotInstance, cfg.EnvFile))
	}
	if err != nil {
		return nil, fail.With(fail.CodeError, "Fix the file by hand, or move it away and run sandbox:init again", err)
	}
	in := &Instance{Dir: dir, Vars: vars, ID: vars["INSTANCE_ID"]}
	var missing []string
	for _, k := range RequiredKeys(cfg) {
		if vars[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fail.New(fail.CodeError, "Move the file away and run sandbox:init (or localProd:init) to write it again",
			"%s is missing %v", path, missing)
	}
	slot, err := strconv.Atoi(vars["SLOT_NUMBER"])
	if err != nil {
		return nil, fail.New(fail.CodeError, "Move the file away and run sandbox:init (or localProd:init) to write it again",
			"%s: SLOT_NUMBER=%q is not a number", path, vars["SLOT_NUMBER"])
	}
	in.Slot = slot
	if vars["COMPOSE_PROJECT_NAME"] != in.ID {
		return nil, fail.New(fail.CodeError, "Set COMPOSE_PROJECT_NAME to the INSTANCE_ID, or write the file again with init",
			"%s: COMPOSE_PROJECT_NAME=%q differs from INSTANCE_ID=%q", path, vars["COMPOSE_PROJECT_NAME"], in.ID)
	}
	for _, a := range cfg.PortsFor(slot) {
		if p, err := strconv.Atoi(vars[a.Env]); err != nil || p < 1 || p > 65535 {
			return nil, fail.New(fail.CodeError, "Move the file away and run init again to write it",
				"%s: %s=%q is not a port", path, a.Env, vars[a.Env])
		}
	}
	return in, nil
}

// RequiredKeys are the env-file keys without which an instance cannot run.
func RequiredKeys(cfg config.Config) []string {
	keys := []string{"INSTANCE_ID", "COMPOSE_PROJECT_NAME", "SLOT_NUMBER"}
	for _, p := range cfg.Ports {
		keys = append(keys, p.Env)
	}
	return keys
}

// EnvVars is the content of .env.sandbox for an instance: identity, every port of the
// slot, the shared-data paths. Never a secret.
func EnvVars(cfg config.Config, home, id string, slot int, created time.Time) map[string]string {
	vars := cfg.PortEnv(slot)
	vars["COMPOSE_PROJECT_NAME"] = id
	vars["INSTANCE_ID"] = id
	vars["SLOT_NUMBER"] = strconv.Itoa(slot)
	vars["CREATED_AT"] = Timestamp(created)
	vars["SANDBOX_VERSION"] = strconv.Itoa(cfg.EnvFileVersion)
	shared := cfg.SharedPath(home)
	vars[cfg.SharedEnv] = shared
	for _, s := range cfg.Shared {
		vars[s.Env] = filepath.Join(shared, s.Name)
	}
	return vars
}

// Timestamp formats t as KTRDR does: UTC, microseconds, +00:00.
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

// Port returns the instance's host port for a port variable.
func (in *Instance) Port(env string) int {
	p, _ := strconv.Atoi(in.Vars[env])
	return p
}

// Ports is the instance's port variable → host port map.
func (in *Instance) Ports(cfg config.Config) map[string]int {
	m := map[string]int{}
	for _, p := range cfg.Ports {
		m[p.Env] = in.Port(p.Env)
	}
	return m
}

// Assignments are the instance's ports as the env file has them, in table order.
func (in *Instance) Assignments(cfg config.Config) []config.Assignment {
	out := make([]config.Assignment, 0, len(cfg.Ports))
	for _, p := range cfg.Ports {
		out = append(out, config.Assignment{Port: p, Host: in.Port(p.Env)})
	}
	return out
}

// Confirm asks a yes/no question on the terminal. Without a terminal it refuses rather
// than guess, and says how to proceed without asking.
func (h *Host) Confirm(question string) (bool, error) {
	if !h.Terminal || h.In == nil {
		return false, fail.New(fail.CodeError, "Pass -force to proceed without a prompt",
			"confirmation needed but there is no terminal to ask on")
	}
	fmt.Fprintf(h.Out, "%s [y/N] ", question)
	var answer string
	_, _ = fmt.Fscanln(h.In, &answer)
	switch answer {
	case "y", "Y", "yes", "YES", "Yes":
		return true, nil
	}
	return false, nil
}
