// Package targets holds the Mage targets: the Sandbox and LocalProd namespaces. Each
// target parses its flags, builds the host from the process, calls one function of pkg/,
// and turns its error into Mage's exit code. A repository uses them with
//
//	//mage:import
//	"github.com/ktrdr/sandbox/pkg/targets"
//
// and may edit targets.Config in an init function of its magefile.
package targets

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/magefile/mage/mg"
	"golang.org/x/term"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/instance"
	"github.com/ktrdr/sandbox/pkg/localprod"
	"github.com/ktrdr/sandbox/pkg/sandbox"
)

// Config is the table every target uses. Replace or edit it in your magefile's init.
var Config = config.KTRDR()

// PortOffsetEnv moves every host port by its value; the test suites use it so they never
// touch a developer's running stacks.
const PortOffsetEnv = "SANDBOX_PORT_OFFSET"

// RegistryWaitEnv bounds the wait for the registry lock (default 10s).
const RegistryWaitEnv = "SANDBOX_REGISTRY_WAIT"

// CrashAtEnv names a step at which a command kills itself; for the crash-point tests only.
const CrashAtEnv = "SANDBOX_TEST_CRASH_AT"

// Sandbox manages sandboxes: one per git worktree, each on its own port slot.
type Sandbox mg.Namespace

// LocalProd manages the single production-like instance on the standard ports.
type LocalProd mg.Namespace

func newHost() (*instance.Host, error) {
	cfg := Config
	if v := os.Getenv(PortOffsetEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fail.New(fail.CodeUsage, "Unset it or give a whole number", "%s=%q is not a number", PortOffsetEnv, v)
		}
		cfg.PortOffset = n
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var wait time.Duration
	if v := os.Getenv(RegistryWaitEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fail.New(fail.CodeUsage, "Give a duration such as 30s", "%s=%q is not a duration", RegistryWaitEnv, v)
		}
		wait = d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, fail.With(fail.CodeError, "Set HOME", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return &instance.Host{
		Config:       cfg,
		Home:         home,
		Cwd:          cwd,
		Env:          os.Environ(),
		In:           os.Stdin,
		Out:          os.Stdout,
		Err:          os.Stderr,
		Terminal:     term.IsTerminal(int(os.Stdin.Fd())),
		Progress:     term.IsTerminal(int(os.Stdout.Fd())),
		Now:          time.Now,
		CrashAt:      os.Getenv(CrashAtEnv),
		RegistryWait: wait,
	}, nil
}

// run builds the host, calls fn, and maps its error to Mage's exit code, with the hint
// on a line of its own under Mage's "Error: " line.
func run(fn func(h *instance.Host) error) error {
	h, err := newHost()
	if err == nil {
		err = fn(h)
	}
	if err == nil {
		return nil
	}
	msg := err.Error()
	if hint := fail.Hint(err); hint != "" {
		msg += "\nHint: " + hint
	}
	return mg.Fatal(fail.Code(err), msg)
}

func sandboxes(h *instance.Host) sandbox.Sandboxes {
	return sandbox.Sandboxes{Host: h, Git: gitx.Git{Env: h.Env, LockPath: h.WorktreeLockPath()}}
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Create makes a sandbox: a git worktree beside the repository on its own port slot.
// Flags: -branch=B (existing branch checked out, or new), -slot=N (1-10).
func (Sandbox) Create(ctx context.Context, name string, branch *string, slot *int) error {
	return run(func(h *instance.Host) error {
		return sandboxes(h).Create(ctx, name, sandbox.CreateOptions{Branch: val(branch), Slot: slot})
	})
}

// Init adopts the current clone or worktree as a sandbox. Flags: -slot=N, -name=ID.
func (Sandbox) Init(ctx context.Context, slot *int, name *string) error {
	return run(func(h *instance.Host) error { return sandboxes(h).Init(ctx, val(name), slot) })
}

// List shows every instance with its slot, status, API port and path. Flag: -json.
func (Sandbox) List(ctx context.Context, json *bool) error {
	return run(func(h *instance.Host) error { return sandboxes(h).List(ctx, val(json)) })
}

// Destroy removes the sandbox in the current directory: containers, volumes, worktree
// (never its branch) and registry entry. Flags: -force, -keepWorktree, -discardChanges.
func (Sandbox) Destroy(ctx context.Context, force, keepWorktree, discardChanges *bool) error {
	return run(func(h *instance.Host) error {
		return sandboxes(h).Destroy(ctx, sandbox.DestroyOptions{Force: val(force), KeepWorktree: val(keepWorktree), DiscardChanges: val(discardChanges)})
	})
}

// Up starts the sandbox in the current directory and waits for the startability gate.
// Flags: -noWait, -build, -timeout=2m, -noSecrets.
func (Sandbox) Up(ctx context.Context, noWait, build *bool, timeout *time.Duration, noSecrets *bool) error {
	return run(func(h *instance.Host) error {
		in, err := sandboxes(h).Current()
		if err != nil {
			return err
		}
		return h.Start(ctx, in, h.Config.Sandbox, instance.StartOptions{NoWait: val(noWait), Build: val(build), Timeout: val(timeout), NoSecrets: val(noSecrets)})
	})
}

// Down stops the sandbox in the current directory; volumes are kept unless -volumes.
func (Sandbox) Down(ctx context.Context, volumes *bool) error {
	return run(func(h *instance.Host) error {
		in, err := sandboxes(h).Current()
		if err != nil {
			return err
		}
		return h.Stop(ctx, in, h.Config.Sandbox, val(volumes))
	})
}

// Status shows the sandbox's containers, URLs and shared data. Flag: -json.
func (Sandbox) Status(ctx context.Context, json *bool) error {
	return run(func(h *instance.Host) error {
		in, err := sandboxes(h).Current()
		if err != nil {
			return err
		}
		return instance.PrintStatus(h.Out, h.Status(ctx, in, h.Config.Sandbox), val(json))
	})
}

// Logs shows compose logs. Flags: -service=S, -follow, -tail=N (default 100).
func (Sandbox) Logs(ctx context.Context, service *string, follow *bool, tail *int) error {
	return run(func(h *instance.Host) error {
		in, err := sandboxes(h).Current()
		if err != nil {
			return err
		}
		return h.Logs(ctx, in, h.Config.Sandbox, val(service), val(follow), val(tail))
	})
}

// Shell opens a shell in a service (default backend). Flag: -service=S.
func (Sandbox) Shell(ctx context.Context, service *string) error {
	return run(func(h *instance.Host) error {
		in, err := sandboxes(h).Current()
		if err != nil {
			return err
		}
		return h.Shell(ctx, in, h.Config.Sandbox, val(service))
	})
}

// InitShared sets up the shared data directory. Flags: -from=PATH, -minimal.
func (Sandbox) InitShared(ctx context.Context, from *string, minimal *bool) error {
	return run(func(h *instance.Host) error {
		if from != nil && val(minimal) {
			return fail.New(fail.CodeUsage, "Use one of them", "-from and -minimal cannot be used together")
		}
		if from != nil && *from == "" {
			return fail.New(fail.CodeUsage, "Give the path of an existing checkout: -from=PATH", "-from needs a path")
		}
		return sandboxes(h).InitShared(ctx, val(from), val(minimal))
	})
}

// Doctor checks Docker, git, op, disk, ports and the registry, and says how to fix each
// problem. Flag: -json.
func (Sandbox) Doctor(ctx context.Context, json *bool) error {
	return run(func(h *instance.Host) error { return sandboxes(h).Doctor(ctx, val(json)) })
}

// Gc finds stale registry entries, orphaned compose projects and unregistered worktrees,
// and removes what cannot hold user work. Flag: -dryRun.
func (Sandbox) Gc(ctx context.Context, dryRun *bool) error {
	return run(func(h *instance.Host) error { return sandboxes(h).GC(ctx, val(dryRun)) })
}

func localProd(h *instance.Host) localprod.LocalProd {
	return localprod.LocalProd{Host: h, Git: gitx.Git{Env: h.Env, LockPath: h.WorktreeLockPath()}}
}

// Init registers the current clone as local-prod (slot 0, the standard ports).
func (LocalProd) Init(ctx context.Context) error {
	return run(func(h *instance.Host) error { return localProd(h).Init(ctx) })
}

// Up starts local-prod, from any directory. Flags: -noWait, -build, -timeout=2m, -noSecrets.
func (LocalProd) Up(ctx context.Context, noWait, build *bool, timeout *time.Duration, noSecrets *bool) error {
	return run(func(h *instance.Host) error {
		return localProd(h).Up(ctx, instance.StartOptions{NoWait: val(noWait), Build: val(build), Timeout: val(timeout), NoSecrets: val(noSecrets)})
	})
}

// Down stops local-prod; volumes are kept unless -volumes.
func (LocalProd) Down(ctx context.Context, volumes *bool) error {
	return run(func(h *instance.Host) error { return localProd(h).Down(ctx, val(volumes)) })
}

// Destroy removes local-prod's containers, volumes, .env.sandbox and registry entry; the
// clone is always kept. Flag: -force.
func (LocalProd) Destroy(ctx context.Context, force *bool) error {
	return run(func(h *instance.Host) error { return localProd(h).Destroy(ctx, val(force)) })
}

// Status shows local-prod's containers, URLs and shared data. Flag: -json.
func (LocalProd) Status(ctx context.Context, json *bool) error {
	return run(func(h *instance.Host) error { return localProd(h).Status(ctx, val(json)) })
}

// Logs shows local-prod's compose logs. Flags: -service=S, -follow, -tail=N.
func (LocalProd) Logs(ctx context.Context, service *string, follow *bool, tail *int) error {
	return run(func(h *instance.Host) error { return localProd(h).Logs(ctx, val(service), val(follow), val(tail)) })
}
