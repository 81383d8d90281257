package core

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

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gate"
	"github.com/ktrdr/sandbox/pkg/hooks"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/ports"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// Current is the instance of kind the command acts on: for sandboxes the one whose
// directory is the current directory (the local-prod clone is refused: sandbox targets
// would run it with development settings); for local-prod the one in the registry, from
// any directory (the original tool lost a user's work by acting on whatever directory it
// was run in).
func (e *Env) Current(kind config.Kind) (*Instance, error) {
	cfg := e.Config
	var in *Instance
	var err error
	if kind == config.KindLocalProd {
		in, _, err = e.localProd()
	} else {
		in, err = Load(cfg, kind, e.Cwd)
		if err == nil && (in.Slot == cfg.LocalProd.Slot || in.ID == cfg.LocalProd.InstanceID) {
			return nil, fail.New(fail.CodeError, fail.Run("Use the local-prod commands for it, e.g. %s", fail.Do(fail.LocalProd, "status", "")),
				"%s is local-prod, not a sandbox", in.Dir)
		}
	}
	if err != nil {
		return nil, err
	}
	in.Engine, err = e.EngineOf(in.ID)
	return in, err
}

// localProd finds local-prod through the registry.
func (e *Env) localProd() (*Instance, *registry.Instance, error) {
	reg, err := e.loadRegistry()
	if err != nil {
		return nil, nil, err
	}
	if reg.LocalProd == nil {
		return nil, nil, fail.New(fail.CodeError, fail.Run("In a clone of the repository run: %s", fail.Do(fail.LocalProd, "init", "")),
			"no local-prod instance is registered")
	}
	entry := reg.LocalProd
	if _, err := os.Stat(entry.Path); err != nil {
		return nil, entry, fail.New(fail.CodeError, fail.Run("Clear the stale entry with: %s", fail.Do(fail.LocalProd, "destroy", "-force")),
			"registered local-prod directory %s is gone", entry.Path)
	}
	in, err := Load(e.Config, config.KindLocalProd, entry.Path)
	if err != nil {
		return nil, entry, err
	}
	if in.ID != entry.InstanceID {
		return nil, entry, fail.New(fail.CodeError, fail.Run("Fix INSTANCE_ID in "+e.Config.EnvFile+", or run %s and init local-prod again", fail.Do(fail.LocalProd, "destroy", "")),
			"%s at %s names %s, but the registry records local-prod as %s", e.Config.EnvFile, entry.Path, in.ID, entry.InstanceID)
	}
	return in, entry, nil
}

// noteElsewhere tells the user who runs a local-prod command from another directory
// where local-prod is, before anything changes there.
func (e *Env) noteElsewhere(kind config.Kind, path string) {
	if kind != config.KindLocalProd {
		return
	}
	if !registry.SamePath(e.Cwd, path) {
		e.say("Note: local-prod is at %s (current directory is %s)", path, e.Cwd)
	}
}

// project is the instance's compose project for a lifecycle, with env merged: the
// caller's environment, then the env file's values (they win), then extra.
func (e *Env) project(in *Instance, lc config.Lifecycle, extra map[string]string) compose.Project {
	return compose.Project{
		Name:     in.ID,
		Dir:      in.Dir,
		File:     filepath.Join(in.Dir, e.Config.ComposeFile),
		Profiles: lc.Profiles,
		Env:      mergeEnv(e.Vars, in.Vars, lc.Env, extra),
	}
}

func mergeEnv(base []string, layers ...map[string]string) []string {
	m := map[string]string{}
	order := []string{}
	set := func(k, v string) {
		if _, seen := m[k]; !seen {
			order = append(order, k)
		}
		m[k] = v
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	for _, layer := range layers {
		for _, k := range sortedKeys(layer) {
			set(k, layer[k])
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+m[k])
	}
	return out
}

var runDoctor = fail.Run("Run: %s", fail.Do(fail.Sandbox, "doctor", ""))

// checkDocker fails with a clear message when docker, its daemon or compose v2 is missing.
func (e *Env) checkDocker(ctx context.Context) error {
	if _, _, err := e.Docker.Versions(ctx); err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx)
		}
		return fail.With(fail.CodeError, runDoctor, err)
	}
	return nil
}

func (e *Env) composeFileCheck(in *Instance) error {
	file := filepath.Join(in.Dir, e.Config.ComposeFile)
	if _, err := os.Stat(file); err != nil {
		return fail.New(fail.CodeError, fail.Say("The instance must be a checkout of a repository that has "+e.Config.ComposeFile),
			"no compose file at %s", file)
	}
	return nil
}

// ready checks what every compose command on an instance needs.
func (e *Env) ready(ctx context.Context, in *Instance) error {
	if err := e.composeFileCheck(in); err != nil {
		return err
	}
	return e.checkDocker(ctx)
}

// tunnelHold is how long a TCP check's connection must stay open on a remote engine:
// the SSH forward accepts it here and closes it one round trip later when nothing
// listens on the engine's host (a millisecond on a LAN, a WAN's 100 ms or so).
const tunnelHold = 250 * time.Millisecond

// StartOptions are the flags of up.
type StartOptions struct {
	NoWait    bool
	Build     bool
	Timeout   time.Duration
	NoSecrets bool
	NoHooks   bool // do not run the pre-up and post-up hooks
	// Force starts the instance even when the engine's memory looks too small for it.
	Force bool
}

// StartResult is what up did: the gate's report unless NoWait, and the URLs.
type StartResult struct {
	Kind     config.Kind
	Instance *Instance
	Waited   bool
	Gate     gate.Report
	Elapsed  time.Duration
	URLs     []Endpoint
	// Platform is what the instance's containers run as ("linux/arm64").
	Platform string
}

// Up brings the instance of kind up: port check, secrets, prepare, compose up, then
// the startability gate. A failed gate returns the result with the error.
func (e *Env) Up(ctx context.Context, kind config.Kind, o StartOptions) (StartResult, error) {
	lc := e.Config.Lifecycle(kind)
	res := StartResult{Kind: kind}
	in, err := e.Current(kind)
	if err != nil {
		return res, err
	}
	res.Instance, res.URLs = in, in.Endpoints(e.Config, false)
	started := e.Now()
	e.noteElsewhere(kind, in.Dir)
	e.say("Starting %s: %s (slot %d)", lc.Kind, in.ID, in.Slot)
	if err := e.composeFileCheck(in); err != nil {
		return res, err
	}
	var head swarmHead
	placedNow := false
	switch {
	case in.Engine.Placed():
		head = e.swarmHeadAsync(ctx, kind, in, o)
	case in.Engine.Swarm != nil:
		configOf := e.composeConfig(ctx, in, lc)
		if err := refuseUndeployable(in, configOf); err != nil {
			return res, err
		}
		if err := e.place(ctx, in, lc, configOf); err != nil {
			return res, err
		}
		placedNow = true
	}
	err = e.on(ctx, in.Engine, true, func(r *Env) error {
		res, err = r.upHere(ctx, kind, in, o, res, head)
		return err
	})
	if head.placed != nil && err != nil {
		if perr := head.placed(); perr != nil {
			err = perr // its node is down or drained: the manager says so more precisely
		}
	}
	if err != nil && placedNow {
		e.unplaceFailedFirstUp(ctx, in)
	}
	if err != nil && !in.Engine.Local() {
		// An up that fails leaves no tunnel behind that nothing uses.
		e.closeTunnelIfIdle(context.WithoutCancel(ctx), in.Engine, "")
		e.closeManagerTunnelIfIdle(context.WithoutCancel(ctx), in.Engine, "")
	}
	if err != nil || o.NoWait {
		return res, err
	}
	return e.awaitGate(ctx, kind, in, o, res, started)
}

// upHere is up on an Env bound to the instance's engine, up to the gate: every check
// that can refuse runs before anything starts.
func (e *Env) upHere(ctx context.Context, kind config.Kind, in *Instance, o StartOptions, res StartResult, head swarmHead) (_ StartResult, err error) {
	lc := e.Config.Lifecycle(kind)
	// Every question to the engine goes out at once; the answers are read in the order
	// the checks must speak (ports, then memory). Whether Docker and compose are there
	// is asked only when something fails: every answer here already says the engine is.
	memory := e.memoryCheckAsync(ctx, in.ID)
	published := e.publishedAsync(ctx, in.ID)
	prepCtx, stopPrepare := context.WithCancel(ctx)
	prepared, early := e.prepareEarly(prepCtx, in, o)
	defer func() {
		if err != nil && prepared != nil { // a refused up leaves no build running behind it
			stopPrepare()
			_ = prepared()
		}
		stopPrepare()
	}()
	remoteListening := e.remoteListeningAsync(ctx)
	snaps := e.Snapshots()
	if err := snaps.checkRestore(kind, in); err != nil {
		return res, err
	}
	snaps.thawLeftovers(ctx, in.ID)
	if err := e.portsFree(ctx, in, published, remoteListening); err != nil {
		return res, err
	}
	verdict := <-memory
	if err := e.judgeMemory(kind, verdict, o.Force); err != nil {
		return res, err
	}
	if err := e.checkRuns(ctx, in.Engine, verdict.eng); err != nil {
		return res, err // -force does not help: every container would die at once
	}
	e.trace("up: memory weighed")
	if head.placed != nil {
		if err := head.placed(); err != nil {
			return res, err
		}
		e.trace("up: placement confirmed")
	}
	res.Platform = verdict.eng.Platform.String()
	e.rememberPlatform(in.Engine, verdict.eng)
	_ = e.usageHistory().StartRun(in.ID, e.Now()) // what this run uses replaces the last run's figure
	if err := e.runHooks(ctx, kind, hooks.PreUp, in, o.NoHooks); err != nil {
		return res, err
	}
	secretEnv, err := e.secrets(ctx, lc, o.NoSecrets)
	if err != nil {
		return res, err
	}
	e.trace("up: hooks and secrets")
	if prepared == nil || early != verdict.eng.Platform {
		// no early build, or it built for the platform an engine had before it changed:
		// that build ends before the right one starts (they write the same files)
		if prepared != nil {
			_ = prepared()
		}
		prepared = e.prepareAsync(prepCtx, in, verdict.eng.Platform)
	}
	return res, e.startStack(ctx, kind, in, o, e.project(in, lc, secretEnv), prepared, head.config)
}

// portsFree reads the answers about the slot's ports: the instance's own, and on a
// remote engine what listens on its host.
func (e *Env) portsFree(ctx context.Context, in *Instance, published <-chan publishedReply, remoteListening <-chan listening) error {
	own := <-published
	if own.err != nil {
		return e.dockerFailed(ctx, own.err)
	}
	if err := e.checkPorts(in, own.ports, remoteListening); err != nil {
		return err
	}
	e.trace("up: ports free")
	return nil
}

// dockerFailed is the error of a docker question that failed: what checkDocker says is
// missing (docker, its daemon, compose v2) when it says so, else the failure itself.
func (e *Env) dockerFailed(ctx context.Context, err error) error {
	if derr := e.checkDocker(ctx); derr != nil {
		return derr
	}
	return fail.With(fail.CodeError, runDoctor, err)
}

// remoteListeningAsync asks a remote engine's host what listens there (nil when local).
func (e *Env) remoteListeningAsync(ctx context.Context) <-chan listening {
	if e.tunnel == nil {
		return nil
	}
	return e.listeningAsync(ctx)
}

// publishedReply is the host ports the instance's own containers publish.
type publishedReply struct {
	ports map[int]bool
	err   error
}

func (e *Env) publishedAsync(ctx context.Context, id string) <-chan publishedReply {
	done := make(chan publishedReply, 1)
	go func() {
		p, err := e.Docker.Published(ctx, e.Config.ComposeProjectLabel, id)
		done <- publishedReply{p, err}
	}()
	return done
}

// prepareEarly starts the prepare commands while up checks ports and memory, when no
// pre-up hook has to run before them (a hook may produce what they build); nil when
// they must wait. It builds for the platform the engine had last time (docker info
// confirms it meanwhile, and up builds again in the rare case it changed).
func (e *Env) prepareEarly(ctx context.Context, in *Instance, o StartOptions) (func() error, platform.Platform) {
	if len(e.Config.Prepare) == 0 {
		return nil, platform.Platform{}
	}
	if !e.noPreUpHook(in, o) {
		return nil, platform.Platform{}
	}
	p, known := e.knownPlatform(in.Engine)
	if !known {
		eng, err := e.Docker.Engine(ctx) // asked once: the memory check gets the same answer
		if err != nil {
			return nil, platform.Platform{}
		}
		p = eng.Platform
	}
	return e.prepareAsync(ctx, in, p), p
}

// noPreUpHook is true when no pre-up hook runs before up starts the stack: nothing
// can change the files up reads before it starts them.
func (e *Env) noPreUpHook(in *Instance, o StartOptions) bool {
	if o.NoHooks {
		return true
	}
	hs, err := hooks.Find(in.Dir, hooks.PreUp, e.Config.Hooks)
	return err == nil && len(hs) == 0
}

// prepareAsync runs the prepare commands for p in the background; the result waits
// for them (and may be asked more than once).
func (e *Env) prepareAsync(ctx context.Context, in *Instance, p platform.Platform) func() error {
	done := make(chan error, 1)
	go func() { done <- e.prepare(ctx, in, p) }()
	return sync.OnceValue(func() error { return <-done })
}

// checkPorts refuses (exit 3) when a port of the slot is held here by anything but the
// instance's own containers, or, on a remote engine, on the engine's host.
func (e *Env) checkPorts(in *Instance, own map[int]bool, remoteListening <-chan listening) error {
	if busy := ports.Busy(in.Assignments(e.Config), e.heldHere(own)); len(busy) > 0 {
		return fail.With(fail.CodePorts,
			fail.Run("Another instance or program holds them: see %s (or: ss -ltnp), stop it, then retry", fail.Do(fail.Sandbox, "doctor", "")),
			&ports.ConflictError{Slot: in.Slot, Busy: busy})
	}
	if e.tunnel == nil {
		return nil
	}
	busy, err := e.remoteBusy(in, <-remoteListening, own)
	if err != nil {
		return err
	}
	if len(busy) > 0 {
		return fail.With(fail.CodePorts, fail.Say(fmt.Sprintf("Something on %s's host holds them: stop it (ssh %s ss -ltnp), or use another slot", in.Engine.Name(), destination(in.Engine))),
			&ports.ConflictError{Slot: in.Slot, Busy: busy, Where: "engine " + in.Engine.Name()})
	}
	return nil
}

// heldHere are the ports this machine holds for the instance itself: its containers'
// (published here, or on a remote engine's host and forwarded), and on a remote engine
// whatever its tunnel forwards, which holds them here even when the containers went
// away behind the tool's back. The forwards stay through up (a refused or failed up
// leaves a running instance reachable as it was); compose up publishes on the engine's
// host, where the forwards hold nothing.
func (e *Env) heldHere(own map[int]bool) map[int]bool {
	if e.tunnel == nil {
		return own
	}
	held := e.tunnel.Forwarded()
	for p := range own {
		held[p] = true
	}
	return held
}

// startStack waits for what the table prepares, syncs a remote instance's files, runs
// compose up, and forwards a remote instance's ports here.
func (e *Env) startStack(ctx context.Context, kind config.Kind, in *Instance, o StartOptions, p compose.Project, prepared func() error, config func() ([]byte, error)) error {
	var binds func() ([]compose.Bind, error)
	switch {
	case in.Engine.Placed(): // one compose config gives the binds and the stack file
		if config == nil {
			config = e.configAsync(ctx, p)
		}
		binds = func() ([]compose.Bind, error) {
			c, err := config()
			if err != nil {
				return nil, err
			}
			return compose.ParseBinds(c)
		}
	case e.tunnel != nil:
		binds = bindsAsync(ctx, p) // compose parses while prepare builds
	}
	if err := prepared(); err != nil {
		return err
	}
	e.trace("up: prepared")
	lc := e.Config.Lifecycle(kind)
	for _, k := range sortedKeys(lc.Env) {
		e.say("%s=%s", k, lc.Env[k])
	}
	if in.Engine.Placed() {
		return e.syncAndDeploy(ctx, in, p, o.Build, config, binds)
	}
	if e.tunnel != nil {
		if _, err := e.syncInstance(ctx, in, binds); err != nil {
			return err
		}
		e.trace("up: files synced")
	}
	e.say("Running: docker compose up -d%s (project %s)", map[bool]string{true: " --build"}[o.Build], in.ID)
	if err := e.Docker.Up(ctx, p, o.Build, io.Discard, e.Err); err != nil {
		if derr := e.checkDocker(ctx); derr != nil {
			return derr // compose itself is missing, or the engine went away
		}
		return fail.With(fail.CodeError, fail.Run("See the compose output above; logs: %s", fail.Do(string(kind), "logs", "")), err)
	}
	e.trace("up: compose up -d returned")
	return e.forward(ctx, in)
}

// forward makes a remote engine's published ports answer here: the containers publish
// on the remote's host; these forwards keep the URLs and the gate http://localhost:P.
func (e *Env) forward(ctx context.Context, in *Instance) error {
	if e.tunnel == nil {
		return nil
	}
	if err := e.tunnel.Forward(ctx, slotPorts(e, in)); err != nil {
		return fail.With(fail.CodePorts, fail.Run("A program on this machine holds the port; see %s (or: ss -ltnp), stop it, then retry", fail.Do(fail.Sandbox, "doctor", "")), err)
	}
	return nil
}

// prepare runs the table's prepare commands in the instance directory, building for the
// engine: each gets the SANDBOX_PLATFORM variables and DOCKER_DEFAULT_PLATFORM, and a
// `go build` or `go install` also GOOS/GOARCH, so a Mac or an amd64 laptop driving an
// ARM engine puts binaries into images that run there. The table's own Env wins.
func (e *Env) prepare(ctx context.Context, in *Instance, p platform.Platform) error {
	for _, c := range e.Config.Prepare {
		if upToDate(in.Dir, c, p) {
			continue
		}
		goBuild := c.Name == "go" && len(c.Args) > 0 && (c.Args[0] == "build" || c.Args[0] == "install")
		env := mergeEnv(e.Vars, p.BuildEnv(goBuild), c.Env)
		if err := execx.Run(ctx, execx.Cmd{Name: c.Name, Args: c.Args, Dir: in.Dir, Env: env, Stdout: e.Out, Stderr: e.Err}); err != nil {
			return fail.With(fail.CodeError, fail.Say("Fix the prepare step of the configuration"), fmt.Errorf("prepare: %w", err))
		}
		if c.Output != "" {
			// which platform the output was built for: a newer file is not enough
			_ = os.WriteFile(platformStamp(in.Dir, c), []byte(p.String()+"\n"), 0o644)
		}
	}
	return nil
}

// platformStamp is the file beside a prepare step's output that says what it was built for.
func platformStamp(dir string, c config.Command) string {
	out := filepath.Join(dir, c.Output)
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".platform")
}

// upToDate reports a prepare step with nothing to do: its output exists, was built for
// p, and no input is newer. Without Output and Inputs a step always runs.
func upToDate(dir string, c config.Command, p platform.Platform) bool {
	if c.Output == "" || len(c.Inputs) == 0 {
		return false
	}
	out, err := os.Stat(filepath.Join(dir, c.Output))
	if err != nil {
		return false
	}
	if stamp, err := os.ReadFile(platformStamp(dir, c)); err != nil || strings.TrimSpace(string(stamp)) != p.String() {
		return false
	}
	for _, pattern := range c.Inputs {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil || len(matches) == 0 {
			return false // a pattern that matches nothing is a table that says nothing
		}
		for _, m := range matches {
			if fi, err := os.Stat(m); err != nil || fi.ModTime().After(out.ModTime()) {
				return false
			}
		}
	}
	return true
}

// awaitGate runs the startability gate on a started instance and, when it passes, the
// post-up hooks; res comes back with the gate's report.
func (e *Env) awaitGate(ctx context.Context, kind config.Kind, in *Instance, o StartOptions, res StartResult, started time.Time) (StartResult, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	e.say("Startability Gate (timeout %s):", timeout)
	res.Waited = true
	hold := time.Duration(0) // the gate's default: Docker's port proxy closes at once
	if !in.Engine.Local() {
		hold = tunnelHold
	}
	gateCtx, stopGate := context.WithCancelCause(ctx)
	defer stopGate(nil)
	go e.watchCannotExec(gateCtx, kind, in, stopGate)
	res.Gate = gate.Run(gateCtx, gate.Options{Checks: e.Config.Gate, Ports: in.Ports(e.Config), Timeout: timeout, Hold: hold, Out: lineWriter{e.Progress}})
	e.trace("up: gate done")
	res.Elapsed = e.Now().Sub(started)
	var noExec *cannotExecError
	if errors.As(context.Cause(gateCtx), &noExec) && ctx.Err() == nil {
		return res, fail.With(fail.CodeGate, rebuildFor(res.Platform), fmt.Errorf("startability gate ended: %w", noExec))
	}
	if !res.Gate.Passed() {
		var failed []string
		for _, r := range res.Gate.Results {
			if r.Outcome == gate.Failed {
				failed = append(failed, r.Name+": "+r.Detail)
			}
		}
		return res, fail.New(fail.CodeGate, fail.Run("Check logs with: %s", fail.Do(string(kind), "logs", "")),
			"startability gate failed: %s", strings.Join(failed, "; "))
	}
	return res, e.runHooks(ctx, kind, hooks.PostUp, in, o.NoHooks)
}

// secrets reads the lifecycle's 1Password item; a failure is fatal only in production mode.
func (e *Env) secrets(ctx context.Context, lc config.Lifecycle, skip bool) (map[string]string, error) {
	if skip {
		e.say("Skipping 1Password secrets (-noSecrets)")
		return nil, nil
	}
	if len(e.Config.Secrets) == 0 {
		return nil, nil
	}
	vals, err := e.Secrets.Fetch(ctx, lc.SecretsItem, e.Config.Secrets)
	switch {
	case err != nil && lc.SecretsRequired:
		return nil, fail.With(fail.CodeError, fail.Run(fmt.Sprintf("%s runs in production mode and needs its secrets; to start with insecure defaults: %%s", lc.Kind), fail.Do(string(lc.Kind), "up", "-noSecrets")),
			fmt.Errorf("secrets from 1Password item %q: %w", lc.SecretsItem, err))
	case err != nil:
		e.warn("secrets from 1Password item %q: %v", lc.SecretsItem, err)
		e.warn("continuing with default (insecure) values")
		return nil, nil
	}
	e.say("✓ Loaded secrets: %s", strings.Join(vals.Names(), ", "))
	return vals, nil
}

// lineWriter turns what a building block writes line by line into progress steps.
type lineWriter struct{ p Progress }

func (w lineWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.p.Step(line)
	}
	return len(b), nil
}

// StopResult is what down did.
type StopResult struct {
	Instance       *Instance
	VolumesRemoved bool
	Snapshot       string // taken before the volumes went (local-prod)
}

// DownOptions are the flags of down.
type DownOptions struct {
	Volumes    bool // remove the volumes too
	NoHooks    bool // do not run the pre-down hooks
	NoSnapshot bool // local-prod: remove the volumes without taking a snapshot first
}

// Down takes the instance of kind down, with its volumes when asked.
func (e *Env) Down(ctx context.Context, kind config.Kind, o DownOptions) (StopResult, error) {
	lc := e.Config.Lifecycle(kind)
	in, err := e.Current(kind)
	if err != nil {
		return StopResult{}, err
	}
	e.noteElsewhere(kind, in.Dir)
	e.say("Stopping %s: %s", lc.Kind, in.ID)
	if err := e.composeFileCheck(in); err != nil {
		return StopResult{}, err
	}
	var res StopResult
	if in.Engine.Placed() { // the Swarm would start again what compose stops
		if err := e.unstack(ctx, in.Engine, in.ID, false); err != nil {
			return res, err
		}
	}
	err = e.on(ctx, in.Engine, false, func(r *Env) error {
		res, err = r.downHere(ctx, kind, in, o)
		return err
	})
	if err == nil && !in.Engine.Local() {
		e.releaseEngine(ctx, in)
	}
	return res, err
}

// downHere is down on an Env bound to the instance's engine.
func (e *Env) downHere(ctx context.Context, kind config.Kind, in *Instance, o DownOptions) (StopResult, error) {
	if err := e.checkDocker(ctx); err != nil {
		return StopResult{}, err
	}
	// What the stack uses while it still runs is what its next up weighs against the
	// engine's memory; measured while the hooks run, and never waited for long.
	measureCtx, stopMeasuring := context.WithTimeout(ctx, 5*time.Second)
	defer stopMeasuring()
	measured := e.usageAsync(measureCtx)
	if err := e.runHooks(ctx, kind, hooks.PreDown, in, o.NoHooks); err != nil {
		return StopResult{}, err
	}
	<-measured
	var res StopResult
	if o.Volumes && kind == config.KindLocalProd && !o.NoSnapshot {
		snap, err := e.Snapshots().beforeLoss(ctx, kind, in.ID, "before-down")
		if err != nil {
			return StopResult{}, err
		}
		res.Snapshot = snap
	}
	if err := e.awaitStackGone(ctx, in); err != nil {
		return StopResult{}, err
	}
	if err := e.Docker.Down(ctx, e.project(in, e.Config.Lifecycle(kind), nil), o.Volumes, io.Discard, e.Err); err != nil {
		return StopResult{}, fail.With(fail.CodeError, fail.Say("See the compose output above"), err)
	}
	res.Instance, res.VolumesRemoved = in, o.Volumes
	return res, nil
}

// LogOptions are the flags of logs.
type LogOptions struct {
	Service string
	Follow  bool
	Tail    int // 0: 100
}

// Logs streams compose logs of the instance of kind to Out.
func (e *Env) Logs(ctx context.Context, kind config.Kind, o LogOptions) error {
	in, err := e.Current(kind)
	if err != nil {
		return err
	}
	if o.Tail <= 0 {
		o.Tail = 100
	}
	return e.on(ctx, in.Engine, false, func(e *Env) error {
		if err := e.ready(ctx, in); err != nil {
			return err
		}
		err := e.Docker.Logs(ctx, e.project(in, e.Config.Lifecycle(kind), nil), o.Service, o.Follow, o.Tail, e.Out, e.Err)
		if err != nil && ctx.Err() != nil {
			return nil // Ctrl-C ends a -follow; that is not a failure
		}
		return fail.With(fail.CodeError, fail.Run("Is the service name right? See: %s", fail.Do(string(kind), "status", "")), err)
	})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
