package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/lock"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// records is the file of which engine each instance runs on (see engine.Records).
func (e *Env) records() engine.Records {
	return engine.Records{Path: filepath.Join(e.StateDir(), "engines.json")}
}

// EngineOf is the engine an instance runs on (the local one when none is recorded).
func (e *Env) EngineOf(id string) (engine.Engine, error) {
	m, err := e.records().Load()
	if err != nil {
		return engine.Engine{}, fail.With(fail.CodeError, fail.Say("Fix the file or move it away (instances in it then count as local)"), err)
	}
	return m[id], nil
}

// Tunnel is the tool's tunnel to a remote engine: its files live under the tool's home.
func (e *Env) Tunnel(eng engine.Engine) engine.Tunnel {
	return engine.Tunnel{Engine: eng, Dir: filepath.Join(e.StateDir(), "engines", eng.Key()), Env: e.Vars}
}

// ResolveEngine turns the -engine / -context flags into an engine (the local one when
// neither is given) and checks that it answers, so nothing is registered on an engine
// that cannot be reached.
func (e *Env) ResolveEngine(ctx context.Context, endpoint, contextName string) (engine.Engine, error) {
	eng, err := e.ParseEngine(ctx, endpoint, contextName)
	if err != nil || eng.Local() {
		return eng, err
	}
	if _, err := e.Tunnel(eng).Run(ctx, nil, "docker version --format '{{.Server.Version}}'"); err != nil {
		var ee *execx.ExitError
		if !errors.Is(err, engine.ErrUnreachable) && errors.As(err, &ee) {
			err = fmt.Errorf("it answers over SSH, but `docker version` failed there (exit %d): %s", ee.Code, ee.Stderr)
		}
		return eng, e.unreachable(eng, err)
	}
	return eng, nil
}

// ParseEngine is ResolveEngine without asking the engine: for a command that connects to
// it at once anyway (and says so when it cannot).
func (e *Env) ParseEngine(ctx context.Context, endpoint, contextName string) (engine.Engine, error) {
	var eng engine.Engine
	var err error
	switch {
	case endpoint != "" && contextName != "":
		return eng, fail.New(fail.CodeUsage, fail.Say("Use one of them"), "-engine and -context cannot be used together")
	case endpoint != "":
		eng, err = engine.Parse(endpoint)
	case contextName != "":
		eng, err = engine.FromContext(ctx, contextName, e.Vars)
	default:
		return eng, nil
	}
	if errors.Is(err, engine.ErrOtherLocalContext) {
		return eng, fail.New(fail.CodeError, fail.Say("Switch docker to it (docker context use "+contextName+"), or name no context: this machine's engine is the default"), "%v", err)
	}
	if err != nil {
		return eng, fail.With(fail.CodeUsage, fail.Say("Give an engine as ssh://[user@]host[:port], or a docker context whose endpoint is one"), err)
	}
	return eng, nil
}

// unreachable is the one error for an engine that cannot be reached.
func (e *Env) unreachable(eng engine.Engine, err error) error {
	if !errors.Is(err, engine.ErrUnreachable) {
		err = fmt.Errorf("engine %s: %w", eng.Name(), err)
	}
	return fail.With(fail.CodeError, fail.Say(fmt.Sprintf("Check that `ssh %s docker version` works from this machine (host up, key accepted, Docker running there)", destination(eng))), err)
}

func destination(eng engine.Engine) string {
	d, p := eng.Destination()
	if p != "" {
		return "-p " + p + " " + d
	}
	return d
}

// on is the one way an operation reaches an engine: fn runs with an Env whose docker and
// compose calls go to eng (e itself for this machine's engine). For a remote engine that
// is through its tunnel: opened (and kept) when open is set, used if it is up otherwise,
// and when it is not, a short-lived one closed after fn, so a look at a stopped instance
// leaves nothing running.
func (e *Env) on(ctx context.Context, eng engine.Engine, open bool, fn func(*Env) error) error {
	r, release, err := e.connect(ctx, eng, open)
	if err != nil {
		return err
	}
	defer release()
	return fn(r)
}

// onEngineOf is on for the engine instance id is recorded on.
func (e *Env) onEngineOf(ctx context.Context, id string, fn func(*Env) error) error {
	eng, err := e.EngineOf(id)
	if err != nil {
		return err
	}
	return e.on(ctx, eng, false, fn)
}

// connect is at for an engine rather than an instance (list asks every engine; seeding
// may read from one and write to another).
func (e *Env) connect(ctx context.Context, eng engine.Engine, open bool) (*Env, func(), error) {
	if eng.Local() {
		return e, func() {}, nil
	}
	tun := e.Tunnel(eng)
	if open {
		// Start checks and starts under the tunnel's lock file, so one master serves
		// every command at once: up asks a Swarm manager while it opens the tunnel to
		// the instance's node (one tunnel when the manager is that node), and two
		// terminals may run up together.
		started, err := tun.Start(ctx)
		if err != nil {
			return nil, nil, e.tunnelFailed(eng, err)
		}
		if started {
			e.say("Tunnel to %s opened (pid %d)", eng.Name(), tun.PID())
			e.trace("tunnel opened")
		}
		return e.onEngine(tun), func() {}, nil
	}
	if _, alive := tun.Alive(ctx); alive {
		if err := tun.Ping(ctx); err != nil {
			// The connection under it is dead (a laptop that slept, a network that
			// changed): close it. A look (list, status) reports the engine unreachable
			// and leaves the retry to the next command; up starts a new one.
			tun.Kill()
			return nil, nil, e.unreachable(eng, err)
		}
		return e.onEngine(tun), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "sbx-")
	if err != nil {
		return nil, nil, err
	}
	tun.Dir = dir
	release := func() { _ = tun.Stop(context.WithoutCancel(ctx)); _ = os.RemoveAll(dir) }
	if _, err := tun.Start(ctx); err != nil {
		release()
		return nil, nil, e.unreachable(eng, err)
	}
	return e.onEngine(tun), release, nil
}

// tunnelFailed is the error of a tunnel that could not be opened: another command
// holding its lock too long is said as such, anything else as an unreachable engine.
func (e *Env) tunnelFailed(eng engine.Engine, err error) error {
	if errors.Is(err, lock.ErrBusy) {
		return fail.With(fail.CodeError, fail.Say("Another command of this tool is opening it: retry when it is done"), err)
	}
	return e.unreachable(eng, err)
}

// onEngine is e with every docker call going through the tunnel's socket.
func (e *Env) onEngine(tun engine.Tunnel) *Env {
	c := *e
	c.Vars = mergeEnv(e.Vars, map[string]string{"DOCKER_HOST": tun.DockerHost(), "DOCKER_CONTEXT": ""})
	if e.DockerAt != nil {
		c.Docker = e.DockerAt(c.Vars)
	}
	c.tunnel = &tun
	return &c
}

// closeTunnelIfIdle stops the engine's tunnel when no instance on it runs any more.
func (e *Env) closeTunnelIfIdle(ctx context.Context, eng engine.Engine, except string) {
	tun := e.Tunnel(eng)
	if _, alive := tun.Alive(ctx); !alive {
		return
	}
	states, err := e.onEngine(tun).Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
	if err != nil {
		return // cannot tell: keep it
	}
	m, _ := e.records().Load()
	for id, other := range m {
		if id != except && other.Endpoint == eng.Endpoint && states[id].Running > 0 {
			return
		}
	}
	_ = tun.Stop(ctx)
	e.say("Tunnel to %s closed (no instance there runs)", eng.Name())
}

// listeningAsync asks the engine's host what listens there while the caller asks Docker
// for the instance's own containers: two round trips overlapped.
func (e *Env) listeningAsync(ctx context.Context) <-chan listening {
	done := make(chan listening, 1)
	go func() {
		ports, err := e.tunnel.Listening(ctx)
		done <- listening{ports, err}
	}()
	return done
}

type listening struct {
	ports map[int]bool
	err   error
}

// remoteBusy are the slot's ports something listens on at the engine's host, other than
// the instance's own containers.
func (e *Env) remoteBusy(in *Instance, l listening, mine map[int]bool) ([]config.Assignment, error) {
	if l.err != nil {
		return nil, e.unreachable(in.Engine, l.err)
	}
	var busy []config.Assignment
	for _, a := range in.Assignments(e.Config) {
		if l.ports[a.Host] && !mine[a.Host] {
			busy = append(busy, a)
		}
	}
	return busy, nil
}

// slotPorts are the instance's host ports in table order.
func slotPorts(e *Env, in *Instance) []int {
	var out []int
	for _, a := range in.Assignments(e.Config) {
		out = append(out, a.Host)
	}
	return out
}

// SyncResult is what sync put on the engine's host.
type SyncResult struct {
	Instance *Instance
	Engine   engine.Engine
	Binds    []compose.Bind // every bind mount, each satisfied
}

// Sync copies what the instance's compose file bind-mounts to its engine's host: the
// checkout, mirrored to the same path there (bind sources keep their absolute paths).
// Shared data must be there already (initShared -engine puts it there, with its
// all-or-nothing switch); a bind mount from anywhere else cannot be satisfied and is
// refused, naming the service and path, rather than coming up silently empty.
func (e *Env) Sync(ctx context.Context, kind config.Kind) (SyncResult, error) {
	in, err := e.Current(kind)
	if err != nil {
		return SyncResult{}, err
	}
	if in.Engine.Local() {
		return SyncResult{Instance: in}, fail.New(fail.CodeError, fail.Run("Sync is for instances on a remote engine (%s); a local one mounts its files directly", fail.Do(fail.Sandbox, "create", "<name> -engine=ssh://HOST")),
			"%s runs on this machine's engine", in.ID)
	}
	if err := e.composeFileCheck(in); err != nil {
		return SyncResult{}, err
	}
	var res SyncResult
	err = e.on(ctx, in.Engine, false, func(r *Env) error {
		p := r.project(in, e.Config.Lifecycle(kind), nil)
		res, err = r.syncInstance(ctx, in, func() ([]compose.Bind, error) { return p.Binds(ctx) })
		return err
	})
	return res, err
}

// bindsAsync reads the project's bind mounts (a compose call) while the caller goes on.
func bindsAsync(ctx context.Context, p compose.Project) func() ([]compose.Bind, error) {
	type reply struct {
		binds []compose.Bind
		err   error
	}
	done := make(chan reply, 1)
	go func() {
		b, err := p.Binds(ctx)
		done <- reply{b, err}
	}()
	return func() ([]compose.Bind, error) { r := <-done; return r.binds, r.err }
}

// syncInstance is Sync on an Env bound to the engine; binds gives the bind mounts of the
// project up will start.
func (e *Env) syncInstance(ctx context.Context, in *Instance, bindsOf func() ([]compose.Bind, error)) (SyncResult, error) {
	res, copied, err := e.startSync(ctx, in, bindsOf)
	if err != nil {
		return res, err
	}
	return res, copied()
}

// startSync refuses what the copy could not make right (a bind mount outside the
// checkout and the shared data, shared data missing on the engine's host, a checkout
// at the path there) before anything is copied, then starts the copy; copied waits for
// it (and may be called more than once).
func (e *Env) startSync(ctx context.Context, in *Instance, bindsOf func() ([]compose.Bind, error)) (res SyncResult, copied func() error, err error) {
	res = SyncResult{Instance: in, Engine: in.Engine}
	binds, err := bindsOf()
	if err != nil {
		return res, nil, fail.With(fail.CodeError, fail.Say("Fix the compose file; see compose's message"), err)
	}
	res.Binds = binds
	needShared, err := e.sharedMounts(in, binds)
	if err != nil {
		return res, nil, err
	}
	missing, err := e.tunnel.PrepareMirror(ctx, in.Dir, needShared)
	if errors.Is(err, engine.ErrCheckout) {
		return res, nil, fail.With(fail.CodeError, fail.Say("The engine's host has a git checkout at that path (is it this machine?); nothing was copied"), err)
	}
	if err != nil {
		return res, nil, e.unreachable(in.Engine, err)
	}
	if len(missing) > 0 {
		var who []string
		for _, b := range binds {
			for _, x := range missing {
				if b.Source == x {
					who = append(who, b.Service+" mounts "+x)
				}
			}
		}
		return res, nil, fail.New(fail.CodeError, fail.Run("Copy the shared data there first: %s", fail.Do(fail.Sandbox, "initShared", "-engine="+in.Engine.Endpoint)),
			"shared data is missing on engine %s: %s", in.Engine.Name(), strings.Join(dedupe(who), "; "))
	}
	e.say("Syncing %s to %s...", in.Dir, in.Engine.Name())
	started := e.Now()
	type copy struct {
		err  error
		took time.Duration
	}
	done := make(chan copy, 1)
	go func() {
		err := e.tunnel.CopyMirror(ctx, in.Dir, in.Dir, []string{"/.git"}, nil)
		done <- copy{err, e.Now().Sub(started)}
	}()
	return res, sync.OnceValue(func() error {
		c := <-done
		if c.err != nil {
			return e.unreachable(in.Engine, c.err)
		}
		e.say("✓ Synced in %s", c.took.Round(10*time.Millisecond))
		return nil
	}), nil
}

// sharedMounts are the bind-mounted paths in the shared data directory; a bind mount
// outside it and the checkout is refused: on the engine's host it would be missing.
func (e *Env) sharedMounts(in *Instance, binds []compose.Bind) ([]string, error) {
	sharedDir := e.SharedPath()
	var needShared []string
	for _, b := range binds {
		switch {
		case shared.IsWithin(b.Source, in.Dir):
		case shared.IsWithin(b.Source, sharedDir):
			needShared = append(needShared, b.Source)
		default:
			return nil, fail.New(fail.CodeError,
				fail.Say("Mount files from the checkout or the shared data directory only, or put "+b.Source+" on the engine's host yourself and mount it from a named volume"),
				"service %s bind-mounts %s, which is outside %s and %s: on engine %s it would be missing or empty", b.Service, b.Source, in.Dir, sharedDir, in.Engine.Name())
		}
	}
	return needShared, nil
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// releaseEngine undoes what up set up for an instance that no longer runs on its engine:
// its port forwards, and the tunnel itself when no other instance there runs.
func (e *Env) releaseEngine(ctx context.Context, in *Instance) {
	ctx = context.WithoutCancel(ctx)
	tun := e.Tunnel(in.Engine)
	if _, alive := tun.Alive(ctx); alive {
		_ = tun.Cancel(ctx, slotPorts(e, in))
	}
	e.closeTunnelIfIdle(ctx, in.Engine, in.ID)
	e.closeManagerTunnelIfIdle(ctx, in.Engine, in.ID)
}

// InitSharedOn fills the shared data directory on a remote engine's host (the same path
// as here) from a source checkout, or from this machine's shared data when from is
// empty. Each subdirectory switches from complete old to complete new content in one
// rename; unchanged ones are compared and left alone.
func (e *Env) InitSharedOn(ctx context.Context, eng engine.Engine, from string) (SharedResult, error) {
	root := e.SharedPath()
	src := root
	if from != "" {
		abs, err := filepath.Abs(from)
		if err != nil || !isDir(abs) {
			return SharedResult{}, fail.New(fail.CodeError, fail.Say("Give a directory that holds "+e.subdirList()), "Source not found: %s", from)
		}
		src = abs
	} else if !isDir(root) {
		return SharedResult{}, fail.New(fail.CodeError, fail.Run("Fill it here first, or copy from a directory: %s", fail.Do(fail.Sandbox, "initShared", "-from=PATH -engine="+eng.Endpoint)),
			"no shared data on this machine at %s to copy", root)
	}
	var res SharedResult
	err := e.on(ctx, eng, false, func(r *Env) error {
		var err error
		res, err = e.publishShared(ctx, r.tunnel, eng, src, root)
		return err
	})
	return res, err
}

// publishShared copies each shared subdirectory of src to root on the engine's host,
// through the tunnel, with the local guarantee (complete old or complete new content).
func (e *Env) publishShared(ctx context.Context, tun *engine.Tunnel, eng engine.Engine, src, root string) (SharedResult, error) {
	e.say("Copying shared data from %s to %s:%s", src, eng.Name(), root)
	res := SharedResult{Outcome: SharedCopied, Root: root}
	for _, sd := range e.Config.Shared {
		dir := filepath.Join(src, sd.Name)
		if !isDir(dir) {
			e.say("  Skipping %s/ (not found in %s; data there left alone)", sd.Name, src)
			continue
		}
		e.say("  %s/ ...", sd.Name)
		progress := &progressLines{p: e.Progress, every: 2 * time.Second, now: e.Now}
		upToDate, err := tun.Publish(ctx, dir, filepath.Join(root, sd.Name), progress)
		if err != nil {
			if ctx.Err() != nil {
				return res, interrupted(ctx)
			}
			return res, fail.With(fail.CodeError, fail.Say("Fix the cause and run it again; the old copy there is intact and the next run resumes cheaply"), err)
		}
		if upToDate {
			e.say("    up to date (nothing copied)")
		} else {
			e.say("    done")
		}
		// what is there now is what was here: report the source's size under the remote path
		copied := shared.Inspect(src, []string{sd.Name}).Subdirs[0]
		copied.Path = filepath.Join(root, sd.Name)
		res.Summary.Subdirs = append(res.Summary.Subdirs, copied)
	}
	res.Summary.Path, res.Summary.Initialized = root, true
	return res, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// progressLines turns rsync's progress (updates separated by carriage returns) into a
// progress line every so often.
type progressLines struct {
	p     Progress
	every time.Duration
	now   func() time.Time
	last  time.Time
	buf   []byte
}

func (w *progressLines) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexAny(string(w.buf), "\r\n")
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
		if line != "" && w.now().Sub(w.last) >= w.every {
			w.last = w.now()
			w.p.Step("    " + strings.Join(strings.Fields(line), " "))
		}
	}
	return len(b), nil
}

// minEngineFree is the free space below which doctor calls an engine's disk a problem:
// an image build or a database's growth fails there first.
const minEngineFree = 2 << 30

// engineFindings check each remote engine that holds a registered instance: SSH and
// Docker there, its free disk, and whether its tunnel is up while an instance there runs
// (if not, that instance's ports do not answer here).
func (e *Env) engineFindings(ctx context.Context, reg *registry.File) []Finding {
	m, err := e.records().Load()
	if err != nil {
		return []Finding{{Check: "engines", Detail: err.Error(), Fix: fail.Say("fix or move " + e.records().Path)}}
	}
	byEndpoint := map[string][]string{}
	engs := map[string]engine.Engine{}
	for _, in := range e.allEntries(reg) {
		if eng := m[in.InstanceID]; !eng.Local() {
			byEndpoint[eng.Endpoint] = append(byEndpoint[eng.Endpoint], in.InstanceID)
			engs[eng.Endpoint] = eng
		}
	}
	endpoints := make([]string, 0, len(engs))
	for endpoint := range engs {
		endpoints = append(endpoints, endpoint)
	}
	sort.Strings(endpoints)
	var out []Finding
	for _, endpoint := range endpoints {
		out = append(out, e.findingsOf(ctx, engs[endpoint], byEndpoint[endpoint])...)
	}
	return out
}

// findingsOf checks one remote engine holding the instances ids: SSH and Docker there,
// its free disk and platform, and its tunnel (down while an instance there runs is a
// problem: that instance's ports do not answer here).
func (e *Env) findingsOf(ctx context.Context, eng engine.Engine, ids []string) []Finding {
	name := "engine " + eng.Name()
	pid, alive := e.Tunnel(eng).Alive(ctx)
	var facts string
	var states map[string]compose.Counts
	var what platform.Engine
	var networks Finding
	err := e.on(ctx, eng, false, func(r *Env) error {
		var err error
		facts, err = r.tunnel.Run(ctx, nil, `docker version --format '{{.Server.Version}}' && df -Pk "$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /)" | tail -1`)
		if err == nil {
			states, err = r.Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
		}
		if err == nil {
			what, _ = r.Docker.Engine(ctx)
			free, total, roomErr := r.Docker.AddressRoom(ctx)
			networks = networksFinding("networks "+eng.Name(), free, total, roomErr)
		}
		if err != nil {
			return &dockerThere{err}
		}
		return nil
	})
	var there *dockerThere
	switch {
	case errors.As(err, &there):
		return []Finding{{Check: name, Detail: "SSH answers, Docker there does not: " + there.err.Error(), Fix: fail.Say("start Docker on " + destination(eng) + ", and check that this user may use its socket")}}
	case err != nil:
		return []Finding{{Check: name, Detail: err.Error(), Fix: fail.FixOf(err)}}
	}
	version, free := parseEngineFacts(facts)
	f := Finding{Check: name, OK: free < 0 || free >= minEngineFree, Detail: fmt.Sprintf("SSH and Docker %s answer; %s free for Docker there%s", version, shared.FormatSize(free), describePlatform(what))}
	if !f.OK {
		f.Fix = fail.Run("free space on "+destination(eng)+" (docker system prune there, or remove unused volumes: %s)", fail.Do(fail.Sandbox, "gc", "-volumes"))
	}
	var running []string
	for _, id := range ids {
		if states[id].Running > 0 {
			running = append(running, id)
		}
	}
	tunnel := Finding{Check: "tunnel " + eng.Name(), OK: true, Detail: "not needed (no instance there runs)"}
	switch {
	case alive:
		tunnel.Detail = fmt.Sprintf("up (pid %d)", pid)
	case len(running) > 0:
		tunnel = Finding{Check: "tunnel " + eng.Name(), Detail: "down while " + strings.Join(running, ", ") + " run(s) there: their ports do not answer here",
			Fix: fail.Run("run %s in the instance: it starts the tunnel again", fail.Do(fail.Sandbox, "up", ""))}
	}
	return []Finding{f, networks, tunnel}
}

// dockerThere is an engine whose host answers SSH but whose Docker does not.
type dockerThere struct{ err error }

func (d *dockerThere) Error() string { return d.err.Error() }

// parseEngineFacts reads the Docker version line and `df -Pk`'s last line (free space
// in KiB in its fourth field); free is -1 when df said nothing usable.
func parseEngineFacts(facts string) (version string, free int64) {
	lines := strings.Split(strings.TrimSpace(facts), "\n")
	version, free = strings.TrimSpace(lines[0]), -1
	if len(lines) > 1 {
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 4 {
			if kb, err := strconv.ParseInt(f[3], 10, 64); err == nil {
				free = kb << 10
			}
		}
	}
	return version, free
}
