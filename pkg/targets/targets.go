package targets

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/term"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/mcpserver"
	"github.com/ktrdr/sandbox/pkg/secrets"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// Config is the table every target uses. A magefile sets it in its init
// (config.New("yourproject") plus its ports; this repository's sets config.KTRDR()).
// There is no default: a forgotten one would write another project's state.
var Config config.Config

// PortOffsetEnv moves every host port by its value; the test suites use it so they never
// touch a developer's running stacks.
const PortOffsetEnv = "SANDBOX_PORT_OFFSET"

// RegistryWaitEnv bounds the wait for the registry lock (default 10s).
const RegistryWaitEnv = "SANDBOX_REGISTRY_WAIT"

// CrashAtEnv names a step at which a command kills itself; for the crash-point tests only.
const CrashAtEnv = "SANDBOX_TEST_CRASH_AT"

// TraceEnv, set to 1, prints when each step of up, snapshot and restore ended (stderr).
const TraceEnv = "SANDBOX_TRACE"

// ProgressInterval is how often a long copy prints a progress line when not on a terminal.
var ProgressInterval = 3 * time.Second

// Sandbox manages sandboxes: one per git worktree, each on its own port slot.
type Sandbox mg.Namespace

// LocalProd manages the single production-like instance on the standard ports.
type LocalProd mg.Namespace

// newEnv builds the environment of one target run from the process.
func newEnv() (*core.Env, *screen, error) {
	started := time.Now()
	if err := hostSupported(runtime.GOOS); err != nil {
		return nil, nil, err
	}
	cfg, err := table()
	if err != nil {
		return nil, nil, err
	}
	var wait time.Duration
	if v := os.Getenv(RegistryWaitEnv); v != "" {
		if wait, err = time.ParseDuration(v); err != nil {
			return nil, nil, fail.New(fail.CodeUsage, fail.Say("Give a duration such as 30s"), "%s=%q is not a duration", RegistryWaitEnv, v)
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, nil, fail.With(fail.CodeError, fail.Say("Set HOME"), err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	vars := os.Environ()
	scr := &screen{out: os.Stdout, err: os.Stderr, in: os.Stdin,
		terminal: term.IsTerminal(int(os.Stdin.Fd())), bars: term.IsTerminal(int(os.Stdout.Fd())), run: Invocation, cfg: cfg}
	w := core.Env{
		Config:   cfg,
		Home:     home,
		Cwd:      cwd,
		Vars:     vars,
		In:       os.Stdin,
		Out:      os.Stdout,
		Err:      os.Stderr,
		Terminal: scr.terminal,
		Now:      time.Now,
		LockWait: wait,
		CrashAt:  os.Getenv(CrashAtEnv),
		Started:  started,
		Docker:   core.NewCLI(vars),
		DockerAt: func(vars []string) core.Docker { return core.NewCLI(vars) },
		Secrets:  secrets.OP{Env: vars},
		Progress: scr,
		Ask:      scr.ask,
	}
	w.Git = gitx.Git{Env: vars, LockPath: w.WorktreeLockPath()}
	if os.Getenv(TraceEnv) == "1" {
		w.Trace = os.Stderr
	}
	e, err := core.New(w)
	if err != nil {
		return nil, nil, fail.With(fail.CodeError, fail.Say("Fix the configuration in the magefile (targets.Config)"), err)
	}
	return e, scr, nil
}

// table is the magefile's Config with the process's port offset, checked.
func table() (config.Config, error) {
	cfg := Config
	if err := configured(cfg); err != nil {
		return cfg, err
	}
	if v := os.Getenv(PortOffsetEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, fail.New(fail.CodeUsage, fail.Say("Unset it or give a whole number"), "%s=%q is not a number", PortOffsetEnv, v)
		}
		cfg.PortOffset = n
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fail.With(fail.CodeError, fail.Say("Fix the configuration in the magefile (targets.Config)"), err)
	}
	return cfg, nil
}

// hostSupported refuses Windows itself: the tool drives Unix programs (ssh control
// masters, rsync, POSIX renames and signals) and Docker Desktop's bind mounts of Windows
// paths; inside WSL2 it runs as on Linux.
func hostSupported(goos string) error {
	if goos == "windows" {
		return fail.New(fail.CodeUsage, fail.Say("Open a WSL2 shell (wsl), clone the repository inside it, and run the same command there"),
			"this tool runs on Linux and macOS; on Windows run it inside WSL2")
	}
	return nil
}

// configured refuses a magefile that never set Config: without a project name every
// path and id would be guessed, and another project's state (~/.ktrdr) written.
func configured(cfg config.Config) error {
	if cfg.Project == "" {
		return fail.New(fail.CodeUsage, fail.Say(`In the magefile's init, set targets.Config = config.New("yourproject") with its ports (see docs/reference.md#configuration)`),
			"targets.Config is not set: the magefile names no project")
	}
	return nil
}

// run builds the environment, calls fn, and maps its error to Mage's exit code, with the
// remedy on a line of its own under Mage's "Error: " line.
func run(fn func(e *core.Env, s *screen) error) error {
	e, s, err := newEnv()
	if err == nil {
		err = fn(e, s)
	}
	if err == nil {
		return nil
	}
	return mg.Fatal(fail.Code(err), fail.Message(err, Invocation.Spell))
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// screen is where a target's results, progress and questions go.
type screen struct {
	out, err io.Writer
	in       io.Reader
	terminal bool // stdin is a terminal: questions can be asked
	bars     bool // stdout is a terminal: progress bars can be drawn
	run      Runner
	cfg      config.Config
}

func (s *screen) printf(format string, args ...any) { fmt.Fprintf(s.out, format, args...) }

// spell is a command as the user types it.
func (s *screen) spell(kind config.Kind, action, args string) string {
	return s.run.Spell(fail.Do(string(kind), action, args))
}

func (s *screen) Step(msg string) { fmt.Fprintln(s.out, msg) }
func (s *screen) Warn(msg string) { fmt.Fprintf(s.err, "Warning: %s\n", msg) }
func (s *screen) Meter(label string) shared.Progress {
	return shared.NewProgress(s.out, label, s.bars, ProgressInterval)
}

// ask puts a yes/no question on the terminal; without one it refuses rather than guess.
func (s *screen) ask(question string) (bool, error) {
	if !s.terminal || s.in == nil {
		return false, fail.New(fail.CodeError, fail.Say("Pass -force to proceed without a prompt"),
			"confirmation needed but there is no terminal to ask on")
	}
	fmt.Fprintf(s.out, "%s [y/N] ", question)
	var answer string
	_, _ = fmt.Fscanln(s.in, &answer)
	switch answer {
	case "y", "Y", "yes", "YES", "Yes":
		return true, nil
	}
	return false, nil
}

// Create makes a sandbox: a git worktree beside the repository on its own port slot, with
// the ignored files .worktreeinclude names copied in. Flags: -branch=B (existing branch
// checked out, or new), -slot=N (a free sandbox slot; default the lowest), -noInclude,
// -noHooks, -seed=INSTANCE[:SNAPSHOT] (the volumes start with that data),
// -engine=ssh://[user@]host[:port] or -context=NAME (its containers run on that engine),
// -swarm (that engine is a Swarm manager: up places the sandbox on a node the Swarm picks),
// -registry=HOST[:PORT] (with -swarm: the images built for it are pushed there).
func (Sandbox) Create(ctx context.Context, name string, branch *string, slot *int, noInclude, noHooks *bool, seed, engine, context *string, swarm *bool, registry *string) error {
	return run(func(e *core.Env, s *screen) error {
		eng, err := resolveEngine(ctx, e, val(engine), val(context), val(swarm), val(registry))
		if err != nil {
			return err
		}
		res, err := e.Create(ctx, name, core.CreateOptions{Branch: val(branch), Slot: slot, NoInclude: val(noInclude), NoHooks: val(noHooks), Seed: val(seed), Engine: eng})
		if err == nil {
			s.initResult(res)
		}
		return err
	})
}

// Init adopts the current clone or worktree as a sandbox. Flags: -slot=N, -name=ID,
// -engine=ssh://… or -context=NAME, -swarm, -registry=HOST[:PORT] (as for create).
func (Sandbox) Init(ctx context.Context, slot *int, name, engine, context *string, swarm *bool, registry *string) error {
	return initTarget(ctx, config.KindSandbox, core.InitOptions{Name: val(name), Slot: slot}, val(engine), val(context), val(swarm), val(registry))
}

// List shows every instance with its slot, state, API port, memory, CPU, disk and path.
// Flags: -json, -watch (refresh until interrupted).
func (Sandbox) List(ctx context.Context, json, watch *bool) error {
	return run(func(e *core.Env, s *screen) error {
		if val(watch) {
			return s.watch(ctx, e, val(json))
		}
		l, err := e.List(ctx)
		if err != nil {
			return err
		}
		return s.listing(l, val(json))
	})
}

// Destroy removes the sandbox in the current directory: containers, volumes, worktree
// (never its branch) and registry entry. Flags: -force, -keepWorktree, -discardChanges,
// -noHooks, -snapshot (keep a snapshot of the volumes first).
func (Sandbox) Destroy(ctx context.Context, force, keepWorktree, discardChanges, noHooks, snapshot *bool) error {
	return destroyTarget(ctx, config.KindSandbox, core.DestroyOptions{Force: val(force), KeepWorktree: val(keepWorktree), DiscardChanges: val(discardChanges), NoHooks: val(noHooks), Snapshot: val(snapshot)})
}

// Snapshot copies the sandbox's volumes into a snapshot (writers paused meanwhile).
// Flags: -name=N (default: the time), -delete=N removes one instead, -from=ID with
// -delete names another instance's (a destroyed one's too).
func (Sandbox) Snapshot(ctx context.Context, name, delete, from *string) error {
	return snapshotTarget(ctx, config.KindSandbox, val(name), val(delete), val(from))
}

// Snapshots lists snapshots with their sizes and ages: this sandbox's, or every
// instance's with -all (or outside a sandbox). Flags: -json, -all.
func (Sandbox) Snapshots(ctx context.Context, json, all *bool) error {
	return run(func(e *core.Env, s *screen) error {
		l, err := e.Snapshots().List(config.KindSandbox, val(all))
		if err != nil {
			return err
		}
		return s.snapshotList(l, val(json))
	})
}

// Restore gives the sandbox the data of a snapshot, then starts it and runs the gate.
// Flags: -name=N (required), -from=ID (another instance's snapshot), -noSecrets,
// -timeout=2m, -noWait.
func (Sandbox) Restore(ctx context.Context, name, from *string, noSecrets *bool, timeout *time.Duration, noWait *bool) error {
	return restoreTarget(ctx, config.KindSandbox, val(name), val(from), core.StartOptions{NoSecrets: val(noSecrets), Timeout: val(timeout), NoWait: val(noWait)})
}

// Up starts the sandbox in the current directory and waits for the startability gate.
// Flags: -noWait, -build, -timeout=2m, -noSecrets, -noHooks, -force (start even when the
// engine's memory looks too small for it).
func (Sandbox) Up(ctx context.Context, noWait, build *bool, timeout *time.Duration, noSecrets, noHooks, force *bool) error {
	return upTarget(ctx, config.KindSandbox, core.StartOptions{NoWait: val(noWait), Build: val(build), Timeout: val(timeout), NoSecrets: val(noSecrets), NoHooks: val(noHooks), Force: val(force)})
}

// Down stops the sandbox in the current directory; volumes are kept unless -volumes.
// Flag: -noHooks.
func (Sandbox) Down(ctx context.Context, volumes, noHooks *bool) error {
	return downTarget(ctx, config.KindSandbox, core.DownOptions{Volumes: val(volumes), NoHooks: val(noHooks)})
}

// Status shows the sandbox's containers, URLs and shared data. Flag: -json.
func (Sandbox) Status(ctx context.Context, json *bool) error {
	return statusTarget(ctx, config.KindSandbox, val(json))
}

// Logs shows compose logs. Flags: -service=S, -follow, -tail=N (default 100).
func (Sandbox) Logs(ctx context.Context, service *string, follow *bool, tail *int) error {
	return logsTarget(ctx, config.KindSandbox, core.LogOptions{Service: val(service), Follow: val(follow), Tail: val(tail)})
}

// Shell opens a shell in a service (default: the configuration's). Flag: -service=S.
func (Sandbox) Shell(ctx context.Context, service *string) error {
	return run(func(e *core.Env, _ *screen) error { return e.Shell(ctx, config.KindSandbox, val(service)) })
}

// InitShared sets up the shared data directory. Flags: -from=PATH, -minimal,
// -engine=ssh://… or -context=NAME (fill the same directory on that engine's host, from
// -from or from this machine's shared data).
func (Sandbox) InitShared(ctx context.Context, from *string, minimal *bool, engine, context *string) error {
	return run(func(e *core.Env, s *screen) error {
		if from != nil && val(minimal) {
			return fail.New(fail.CodeUsage, fail.Say("Use one of them"), "-from and -minimal cannot be used together")
		}
		if from != nil && *from == "" {
			return fail.New(fail.CodeUsage, fail.Say("Give the path of an existing checkout: -from=PATH"), "-from needs a path")
		}
		if val(engine) != "" || val(context) != "" {
			if val(minimal) {
				return fail.New(fail.CodeUsage, fail.Say("Copy data there with -from=PATH, or from this machine without -from"), "-minimal cannot be used with -engine or -context")
			}
			eng, err := e.ParseEngine(ctx, val(engine), val(context))
			if err != nil {
				return err
			}
			res, err := e.InitSharedOn(ctx, eng, val(from))
			if err == nil {
				s.sharedResult(res)
			}
			return err
		}
		res, err := e.InitShared(ctx, val(from), val(minimal))
		if err == nil {
			s.sharedResult(res)
		}
		return err
	})
}

// Sync copies the sandbox's checkout to its remote engine's host (up does it too), and
// checks that every bind mount of the compose file is there.
func (Sandbox) Sync(ctx context.Context) error {
	return syncTarget(ctx, config.KindSandbox)
}

// Doctor checks Docker, git, op, disk, ports and the registry, and says how to fix each
// problem. Flag: -json.
func (Sandbox) Doctor(ctx context.Context, json *bool) error {
	return run(func(e *core.Env, s *screen) error { return s.doctor(e.Doctor(ctx), val(json)) })
}

// Gc finds stale registry entries, orphaned compose projects and unregistered worktrees,
// and removes what cannot hold user work. Flags: -dryRun, -volumes (also orphaned
// volumes, with sizes; removed after a yes, or with -force), -images (also images that
// destroyed instances, builds and older helpers left, with sizes).
func (Sandbox) Gc(ctx context.Context, dryRun, volumes, force, images *bool) error {
	return run(func(e *core.Env, s *screen) error {
		rep, err := e.GC(ctx, core.GCOptions{DryRun: val(dryRun), Volumes: val(volumes), Force: val(force), Images: val(images)})
		s.gc(rep)
		return err
	})
}

// Mcp serves the sandbox operations to coding agents over MCP on stdin and stdout, for
// the repository it is started in (see docs/AGENTS.md). Local-prod is read-only unless
// -allowLocalProd. Flag: -allowLocalProd.
func (Sandbox) Mcp(ctx context.Context, allowLocalProd *bool) error {
	return run(func(e *core.Env, _ *screen) error {
		srv, err := mcpserver.New(ctx, mcpserver.Options{
			Env: func(dir string) (*core.Env, error) {
				c := *e
				c.Cwd = dir
				return core.New(c)
			},
			Dir:            e.Cwd,
			Spell:          Invocation.Spell,
			AllowLocalProd: val(allowLocalProd),
			Log:            os.Stderr,
		})
		if err != nil {
			return err
		}
		return srv.Run(ctx, &mcp.StdioTransport{})
	})
}

// Init registers the current clone as local-prod (slot 0, the standard ports). Flags:
// -engine=ssh://[user@]host[:port] or -context=NAME (its containers run on that engine),
// -swarm (that engine is a Swarm manager) and -registry=HOST[:PORT], as for sandbox:create.
func (LocalProd) Init(ctx context.Context, engine, context *string, swarm *bool, registry *string) error {
	return initTarget(ctx, config.KindLocalProd, core.InitOptions{}, val(engine), val(context), val(swarm), val(registry))
}

// Sync copies local-prod's checkout to its remote engine's host. See sandbox:sync.
func (LocalProd) Sync(ctx context.Context) error {
	return syncTarget(ctx, config.KindLocalProd)
}

// Up starts local-prod, from any directory. Flags: -noWait, -build, -timeout=2m,
// -noSecrets, -noHooks, -force (start even when the engine's memory looks too small).
func (LocalProd) Up(ctx context.Context, noWait, build *bool, timeout *time.Duration, noSecrets, noHooks, force *bool) error {
	return upTarget(ctx, config.KindLocalProd, core.StartOptions{NoWait: val(noWait), Build: val(build), Timeout: val(timeout), NoSecrets: val(noSecrets), NoHooks: val(noHooks), Force: val(force)})
}

// Down stops local-prod; volumes are kept unless -volumes, and then a snapshot of them is
// taken first unless -noSnapshot. Flags: -volumes, -noHooks, -noSnapshot.
func (LocalProd) Down(ctx context.Context, volumes, noHooks, noSnapshot *bool) error {
	return downTarget(ctx, config.KindLocalProd, core.DownOptions{Volumes: val(volumes), NoHooks: val(noHooks), NoSnapshot: val(noSnapshot)})
}

// Destroy removes local-prod's containers, volumes, env file and registry entry, after a
// snapshot of its volumes (unless -noSnapshot); the clone is always kept. Flags: -force,
// -noHooks, -noSnapshot.
func (LocalProd) Destroy(ctx context.Context, force, noHooks, noSnapshot *bool) error {
	return destroyTarget(ctx, config.KindLocalProd, core.DestroyOptions{Force: val(force), NoHooks: val(noHooks), NoSnapshot: val(noSnapshot)})
}

// Snapshot copies local-prod's volumes into a snapshot. Flags: -name=N, -delete=N.
func (LocalProd) Snapshot(ctx context.Context, name, delete *string) error {
	return snapshotTarget(ctx, config.KindLocalProd, val(name), val(delete), "")
}

// Restore gives local-prod the data of a snapshot, then starts it and runs the gate.
// Flags: -name=N (required), -from=ID, -noSecrets, -timeout=2m, -noWait.
func (LocalProd) Restore(ctx context.Context, name, from *string, noSecrets *bool, timeout *time.Duration, noWait *bool) error {
	return restoreTarget(ctx, config.KindLocalProd, val(name), val(from), core.StartOptions{NoSecrets: val(noSecrets), Timeout: val(timeout), NoWait: val(noWait)})
}

// Status shows local-prod's containers, URLs and shared data. Flag: -json.
func (LocalProd) Status(ctx context.Context, json *bool) error {
	return statusTarget(ctx, config.KindLocalProd, val(json))
}

// Logs shows local-prod's compose logs. Flags: -service=S, -follow, -tail=N.
func (LocalProd) Logs(ctx context.Context, service *string, follow *bool, tail *int) error {
	return logsTarget(ctx, config.KindLocalProd, core.LogOptions{Service: val(service), Follow: val(follow), Tail: val(tail)})
}

// The bodies the two namespaces share: one lifecycle, two table entries.

func initTarget(ctx context.Context, kind config.Kind, o core.InitOptions, endpoint, contextName string, onSwarm bool, registry string) error {
	return run(func(e *core.Env, s *screen) error {
		eng, err := resolveEngine(ctx, e, endpoint, contextName, onSwarm, registry)
		if err != nil {
			return err
		}
		o.Engine = eng
		res, err := e.Init(ctx, kind, o)
		if err == nil {
			s.initResult(res)
		}
		return err
	})
}

// resolveEngine is the engine of -engine or -context; with -swarm, a Swarm manager whose
// scheduler places the instance at its first up (and -registry, where its images go).
func resolveEngine(ctx context.Context, e *core.Env, endpoint, contextName string, onSwarm bool, registry string) (engine.Engine, error) {
	if registry != "" && !onSwarm {
		return engine.Engine{}, fail.New(fail.CodeUsage, fail.Say("Add -swarm (a registry serves the nodes of a Swarm)"), "-registry needs -swarm")
	}
	eng, err := e.ResolveEngine(ctx, endpoint, contextName)
	if err != nil || !onSwarm {
		return eng, err
	}
	return e.OnSwarm(ctx, eng, registry)
}

func upTarget(ctx context.Context, kind config.Kind, o core.StartOptions) error {
	return run(func(e *core.Env, s *screen) error {
		res, err := e.Up(ctx, kind, o)
		s.started(res, err)
		return err
	})
}

func downTarget(ctx context.Context, kind config.Kind, o core.DownOptions) error {
	return run(func(e *core.Env, s *screen) error {
		res, err := e.Down(ctx, kind, o)
		if err == nil {
			s.stopped(res)
		}
		return err
	})
}

func destroyTarget(ctx context.Context, kind config.Kind, o core.DestroyOptions) error {
	return run(func(e *core.Env, s *screen) error {
		res, err := e.Destroy(ctx, kind, o)
		if err == nil {
			s.destroyed(res)
		}
		return err
	})
}

func statusTarget(ctx context.Context, kind config.Kind, asJSON bool) error {
	return run(func(e *core.Env, s *screen) error {
		rep, err := e.Status(ctx, kind)
		if err != nil {
			return err
		}
		return s.status(rep, asJSON)
	})
}

func logsTarget(ctx context.Context, kind config.Kind, o core.LogOptions) error {
	return run(func(e *core.Env, _ *screen) error { return e.Logs(ctx, kind, o) })
}

func snapshotTarget(ctx context.Context, kind config.Kind, name, del, from string) error {
	return run(func(e *core.Env, s *screen) error {
		if del != "" {
			if name != "" {
				return fail.New(fail.CodeUsage, fail.Say("Use one of them"), "-name and -delete cannot be used together")
			}
			if err := e.Snapshots().Delete(kind, del, from); err != nil {
				return err
			}
			s.printf("Snapshot %s deleted\n", del)
			return nil
		}
		if from != "" {
			return fail.New(fail.CodeUsage, fail.Say("A snapshot is taken of the instance you are in; -from goes with -delete"), "-from needs -delete")
		}
		m, err := e.Snapshots().Take(ctx, kind, name)
		if err == nil {
			s.snapshotTaken(kind, m)
		}
		return err
	})
}

func restoreTarget(ctx context.Context, kind config.Kind, name, from string, o core.StartOptions) error {
	return run(func(e *core.Env, s *screen) error {
		if name == "" {
			list := fail.Do(fail.Sandbox, "snapshots", "") // local-prod's are listed with -all
			if kind == config.KindLocalProd {
				list = fail.Do(fail.Sandbox, "snapshots", "-all")
			}
			return fail.New(fail.CodeUsage, fail.Run("Name the snapshot: -name=N (list them with %s)", list), "-name is required")
		}
		res, err := e.Snapshots().Restore(ctx, kind, name, from, o)
		s.started(res.Start, err)
		return err
	})
}

func syncTarget(ctx context.Context, kind config.Kind) error {
	return run(func(e *core.Env, s *screen) error {
		res, err := e.Sync(ctx, kind)
		if err == nil {
			s.synced(res)
		}
		return err
	})
}
