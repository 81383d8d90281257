package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/secrets"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/snapshot"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// Env is the world an operation runs in, handed in rather than read from globals:
// pkg/targets builds it from the process, tests from temporary directories and fakes.
// Make one with New, which checks it is whole. Lifecycle, inspection and shared data are
// its methods; engines (Engines) and snapshots (Snapshots) are types of their own,
// because each owns state of its own: a file of records and tunnels, a store and the
// volumes seam.
type Env struct {
	Config config.Config
	Home   string   // the user's home directory
	Cwd    string   // where the command was run
	Vars   []string // the caller's environment, passed on to children
	// In, Out and Err are the streams a child that talks to the user gets (logs, shell,
	// compose's own errors).
	In       io.Reader
	Out, Err io.Writer
	// Terminal is true when In is an interactive terminal (a shell gets a TTY).
	Terminal bool
	// Now returns the current time (fixed in tests).
	Now func() time.Time
	// LockWait bounds the wait for another process's lock (0: 10 s).
	LockWait time.Duration
	// CrashAt names a step at which the process kills itself with SIGKILL. Only the
	// crash-point tests set it, to prove every intermediate state is reported and repaired.
	CrashAt string
	// Trace, when set, hears "trace <ms> <step>" lines: how long after Started each step
	// of a long operation ended (SANDBOX_TRACE=1 sends them to stderr).
	Trace   io.Writer
	Started time.Time

	Git    Git
	Docker Docker
	// DockerAt gives Docker with another environment: a remote instance's calls go with
	// DOCKER_HOST set to its engine's tunnel. nil keeps Docker (the fakes of the tests).
	DockerAt func(vars []string) Docker
	// tunnel is set on the copy of an Env bound to a remote engine (see at).
	tunnel *engine.Tunnel

	Secrets  SecretsSource
	Progress Progress
	// Ask puts a yes/no question to the user; it errs when there is nobody to ask.
	Ask func(question string) (bool, error)
}

// ErrIncomplete is wrapped by New when a part of the world the operations rely on is missing.
var ErrIncomplete = errors.New("environment is incomplete")

// New checks w and returns it ready to use: the configuration valid, the directories
// absolute, the seams (git, Docker, secrets) given; what has a harmless default gets it
// (the clock, quiet progress, no questions, no input, discarded output).
func New(w Env) (*Env, error) {
	if err := w.Config.Validate(); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"Home (an absolute directory)", filepath.IsAbs(w.Home)},
		{"Cwd (an absolute directory)", filepath.IsAbs(w.Cwd)},
		{"Git", w.Git != nil},
		{"Docker", w.Docker != nil},
		{"Secrets", w.Secrets != nil},
	} {
		if !f.ok {
			return nil, fmt.Errorf("core.New: %s is missing: %w", f.name, ErrIncomplete)
		}
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Progress == nil {
		w.Progress = quiet{}
	}
	if w.Ask == nil {
		w.Ask = func(string) (bool, error) { return false, errors.New("there is nobody to ask") }
	}
	if w.In == nil {
		w.In = strings.NewReader("")
	}
	if w.Out == nil {
		w.Out = io.Discard
	}
	if w.Err == nil {
		w.Err = io.Discard
	}
	return &w, nil
}

// quiet is the progress of an Env made without one.
type quiet struct{}

func (quiet) Step(string) {}
func (quiet) Warn(string) {}
func (quiet) Meter(string) shared.Progress {
	return shared.NewProgress(io.Discard, "", false, time.Hour)
}

// Progress hears what a long operation is doing while it does it.
type Progress interface {
	Step(msg string) // a line about what is happening or just happened
	Warn(msg string) // something the user should know; the operation goes on
	// Meter measures the bytes of one long copy.
	Meter(label string) shared.Progress
}

// Git is what the lifecycle asks of git; gitx.Git in production.
type Git interface {
	TopLevel(ctx context.Context, dir string) (string, error)
	MainRepo(ctx context.Context, dir string) (string, error)
	BranchExists(ctx context.Context, repo, branch string) (bool, error)
	DeleteBranch(ctx context.Context, repo, branch string) error
	Locate(ctx context.Context, dir string) (top, mainRepo string, err error)
	AddWorktree(ctx context.Context, repo, path, branch string, existing bool) error
	WorktreeRemove(ctx context.Context, repo, path string, force bool) error
	WorktreePrune(ctx context.Context, repo string) error
	WorktreeList(ctx context.Context, repo string) ([]gitx.WorktreeInfo, error)
	Changes(ctx context.Context, dir string, except ...string) ([]string, error)
	CheckRefFormat(ctx context.Context, branch string) (string, error)
	// Run runs any git command (the include plan asks git what is ignored).
	Run(ctx context.Context, dir string, stdin []byte, args ...string) (string, error)
}

// Docker is what the lifecycle asks of the engine and of compose; CLI in production.
type Docker interface {
	Versions(ctx context.Context) (engine, compose string, err error)
	ProjectStates(ctx context.Context, label string) (map[string]compose.Counts, error)
	Containers(ctx context.Context, label, project string) ([]compose.Container, error)
	VolumesOf(ctx context.Context, project string) ([]string, error)
	Responsive(ctx context.Context, container string, bound time.Duration) error
	Up(ctx context.Context, p compose.Project, build bool, out, errw io.Writer) error
	// Build builds a project's images; Config is the project as compose resolves it (JSON).
	// An instance on a Swarm is built on its node and deployed from that configuration.
	Build(ctx context.Context, p compose.Project, errw io.Writer) error
	Config(ctx context.Context, p compose.Project) ([]byte, error)
	Down(ctx context.Context, p compose.Project, volumes bool, out, errw io.Writer) error
	DownByName(ctx context.Context, p compose.Project, out, errw io.Writer) error
	// Published is the host ports a project's running containers publish.
	Published(ctx context.Context, label, project string) (map[int]bool, error)
	Logs(ctx context.Context, p compose.Project, service string, follow bool, tail int, out, errw io.Writer) error
	Exec(ctx context.Context, p compose.Project, service string, cmd []string, tty bool, stdin io.Reader, out, errw io.Writer) error
	// Usage is what every compose project costs now (memory, CPU, volume disk).
	Usage(ctx context.Context, label string) (map[string]stats.Usage, error)
	// Engine is what the engine is: the platform its containers run as, memory, CPUs,
	// Docker Desktop or not. Learned once per Docker value.
	Engine(ctx context.Context) (platform.Engine, error)
	// EngineDisk is the size and free space of the engine's own disk; Sees tells whether
	// the engine's containers see a file of this machine through a bind mount. Both run
	// the snapshot helper there (built for the engine's platform when missing).
	EngineDisk(ctx context.Context) (total, free int64, err error)
	Sees(ctx context.Context, file string) error
	// Volumes is what snapshots and gc ask of the engine's volumes.
	Volumes() Volumes
	// Teardown removes a project's containers (every profile), volumes, networks and the
	// images compose built for it; Labelled lists what carries its label.
	Teardown(ctx context.Context, p compose.Project, label string, out, errw io.Writer) error
	Labelled(ctx context.Context, label, project string) (compose.Labelled, error)
	// Images lists the images that carry label, with its value; RemoveImage removes one.
	Images(ctx context.Context, label string) ([]compose.LabelledImage, error)
	RemoveImage(ctx context.Context, id string) error
	// AddressRoom is how many more networks the engine can make, of how many.
	AddressRoom(ctx context.Context) (free, total int, err error)
	// Push makes ref (in a registry) the image local is and pushes it, unless it was.
	Push(ctx context.Context, local, ref string) (bool, error)
}

// SecretsSource fetches an item's secrets; secrets.OP in production.
type SecretsSource interface {
	Fetch(ctx context.Context, item string, fields []config.SecretField) (secrets.Values, error)
}

// CLI is Docker through the docker and docker compose command lines. Make it with
// NewCLI, so that what the engine is gets asked once.
type CLI struct {
	Env   []string
	facts *engineFacts
}

// NewCLI is Docker through the command lines, with env as their environment.
func NewCLI(env []string) CLI { return CLI{Env: env, facts: &engineFacts{}} }

type engineFacts struct {
	once sync.Once
	val  platform.Engine
	err  error
}

// helper is the snapshot helper on the engine, built for what its containers run as.
func (c CLI) helper(ctx context.Context) (snapshot.Docker, string, error) {
	v := &cliVolumes{Docker: snapshot.Docker{Env: c.Env}, cli: c}
	if err := v.Helper(ctx, platform.Platform{}); err != nil {
		return snapshot.Docker{}, "", err
	}
	d := v.Docker
	d.Platform = v.platform // started for the platform it was built for
	return d, v.image, nil
}

func (c CLI) EngineDisk(ctx context.Context) (int64, int64, error) {
	d, image, err := c.helper(ctx)
	if err != nil {
		return 0, 0, err
	}
	return d.Disk(ctx, image)
}

func (c CLI) Sees(ctx context.Context, file string) error {
	d, image, err := c.helper(ctx)
	if err != nil {
		return err
	}
	return d.Sees(ctx, image, file)
}

// Engine asks `docker info` once for every copy of c made by NewCLI.
func (c CLI) Engine(ctx context.Context) (platform.Engine, error) {
	if c.facts == nil {
		return platform.Learn(ctx, c.Env)
	}
	c.facts.once.Do(func() { c.facts.val, c.facts.err = platform.Learn(ctx, c.Env) })
	return c.facts.val, c.facts.err
}

func (c CLI) engine() compose.Engine { return compose.Engine{Env: c.Env} }

func (c CLI) Versions(ctx context.Context) (string, string, error) { return c.engine().Versions(ctx) }
func (c CLI) AddressRoom(ctx context.Context) (int, int, error)    { return c.engine().AddressRoom(ctx) }
func (c CLI) Push(ctx context.Context, local, ref string) (bool, error) {
	return c.engine().Push(ctx, local, ref)
}
func (c CLI) ProjectStates(ctx context.Context, label string) (map[string]compose.Counts, error) {
	return c.engine().ProjectStates(ctx, label)
}
func (c CLI) Containers(ctx context.Context, label, project string) ([]compose.Container, error) {
	return c.engine().Containers(ctx, label, project)
}
func (c CLI) VolumesOf(ctx context.Context, project string) ([]string, error) {
	return c.engine().VolumesOf(ctx, project)
}
func (c CLI) Responsive(ctx context.Context, container string, bound time.Duration) error {
	return c.engine().Responsive(ctx, container, bound)
}
func (CLI) Build(ctx context.Context, p compose.Project, errw io.Writer) error {
	return p.Build(ctx, io.Discard, errw)
}
func (CLI) Config(ctx context.Context, p compose.Project) ([]byte, error) { return p.Config(ctx) }
func (CLI) Up(ctx context.Context, p compose.Project, build bool, out, errw io.Writer) error {
	return p.Up(ctx, build, out, errw)
}
func (CLI) Down(ctx context.Context, p compose.Project, volumes bool, out, errw io.Writer) error {
	return p.Down(ctx, volumes, out, errw)
}
func (CLI) DownByName(ctx context.Context, p compose.Project, out, errw io.Writer) error {
	return p.DownByName(ctx, out, errw)
}
func (c CLI) Published(ctx context.Context, label, project string) (map[int]bool, error) {
	return c.engine().Published(ctx, label, project)
}
func (CLI) Logs(ctx context.Context, p compose.Project, service string, follow bool, tail int, out, errw io.Writer) error {
	return p.Logs(ctx, service, follow, tail, out, errw)
}
func (CLI) Teardown(ctx context.Context, p compose.Project, label string, out, errw io.Writer) error {
	return p.Teardown(ctx, label, out, errw)
}
func (c CLI) Images(ctx context.Context, label string) ([]compose.LabelledImage, error) {
	return c.engine().Images(ctx, label)
}
func (c CLI) RemoveImage(ctx context.Context, id string) error {
	return c.engine().RemoveImage(ctx, id)
}
func (c CLI) Labelled(ctx context.Context, label, project string) (compose.Labelled, error) {
	return c.engine().Labelled(ctx, label, project)
}
func (c CLI) Usage(ctx context.Context, label string) (map[string]stats.Usage, error) {
	return stats.Collect(ctx, c.Env, label)
}
func (CLI) Exec(ctx context.Context, p compose.Project, service string, cmd []string, tty bool, stdin io.Reader, out, errw io.Writer) error {
	return p.Exec(ctx, service, cmd, tty, stdin, out, errw)
}

// trace notes that step ended, for finding where an operation's time goes.
func (e *Env) trace(step string) {
	if e.Trace != nil {
		fmt.Fprintf(e.Trace, "trace %6.0fms %s\n", float64(e.Now().Sub(e.Started).Microseconds())/1000, step)
	}
}

// step marks a point between two changes of a multi-step command (see CrashAt).
func (e *Env) step(name string) {
	if e.CrashAt != "" && e.CrashAt == name {
		if self, err := os.FindProcess(os.Getpid()); err == nil {
			_ = self.Kill() // SIGKILL on Unix
		}
		select {} // SIGKILL is not deliverable late; never continue past the crash point
	}
}

func (e *Env) say(format string, args ...any)  { e.Progress.Step(fmt.Sprintf(format, args...)) }
func (e *Env) warn(format string, args ...any) { e.Progress.Warn(fmt.Sprintf(format, args...)) }

// lockWait is how long any of the tool's locks is waited for.
func (e *Env) lockWait() time.Duration {
	if e.LockWait > 0 {
		return e.LockWait
	}
	return 10 * time.Second
}

// RegistryStore is the registry of this Env's machine and project.
func (e *Env) RegistryStore() registry.Store {
	return registry.Store{Path: e.Config.RegistryPath(e.Home), LockWait: e.lockWait()}
}

// StateDir holds the tool's own files beside the registry (locks).
func (e *Env) StateDir() string { return dirOf(e.RegistryStore().Path) }

// WorktreeLockPath serializes git worktree changes on this machine: parallel `git
// worktree add` in one repository fails inside git.
func (e *Env) WorktreeLockPath() string { return e.RegistryStore().Path + ".worktrees.lock" }

// SharedPath is the shared-data directory.
func (e *Env) SharedPath() string { return e.Config.SharedPath(e.Home) }

var fixRegistryFile = fail.Say("Fix the file or move it away; it was not changed")

func (e *Env) loadRegistry() (*registry.File, error) {
	f, err := e.RegistryStore().Load()
	if err != nil {
		return nil, fail.With(fail.CodeError, fixRegistryFile, err)
	}
	return f, nil
}

// updateRegistry changes the registry under its lock; errors keep their own code and remedy.
func (e *Env) updateRegistry(ctx context.Context, fn func(*registry.File) error) error {
	return e.updateRegistryThen(ctx, fn, nil)
}

// updateRegistryThen is updateRegistry with then run under the lock once the registry
// is written (see registry.Store.UpdateThen).
func (e *Env) updateRegistryThen(ctx context.Context, fn func(*registry.File) error, then func()) error {
	err := e.RegistryStore().UpdateThen(ctx, fn, then)
	if err == nil || !fail.FixOf(err).IsZero() {
		return err
	}
	if errors.Is(err, registry.ErrBusy) {
		return fail.With(fail.CodeError, fail.Say("Another command is changing the registry; retry when it is done"), err)
	}
	if ctx.Err() != nil {
		return interrupted(ctx)
	}
	return fail.With(fail.CodeError, fixRegistryFile, err)
}

// ErrInterrupted is wrapped by the error of an operation cancelled by its caller (Ctrl-C).
var ErrInterrupted = errors.New("interrupted")

func interrupted(ctx context.Context) error {
	return fail.With(fail.CodeError, fail.Say("Nothing was left half done; run it again when you are ready"),
		fmt.Errorf("%w (%v)", ErrInterrupted, context.Cause(ctx)))
}

func (e *Env) confirm(question string) error {
	ok, err := e.Ask(question)
	if err != nil {
		return err
	}
	if !ok {
		return fail.New(fail.CodeError, fail.Remedy{}, "aborted; nothing was changed")
	}
	return nil
}
