package core

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/atomicfile"
	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/snapshot"
	"github.com/ktrdr/sandbox/pkg/stack"
	"github.com/ktrdr/sandbox/pkg/swarm"
)

// Bounds of the Swarm's own work: placing the placeholder, deploying, removing a stack.
const (
	placeBound  = 2 * time.Minute
	deployBound = 5 * time.Minute
	removeBound = 2 * time.Minute
)

// defaultReservation is what an instance reserves on a Swarm when neither its compose
// file nor an earlier run says what it uses.
const defaultReservation = 512 << 20

// minReservation is the least a Swarm lets a service reserve.
const minReservation = 4 << 20

// OnSwarm makes eng (a manager, from -engine or -context) the engine of an instance to be
// placed on its Swarm, after checking that it is a manager.
func (e *Env) OnSwarm(ctx context.Context, eng engine.Engine, registry string) (engine.Engine, error) {
	if registry != "" && !registryName.MatchString(registry) {
		return eng, fail.New(fail.CodeUsage, fail.Say("Name it as docker push does, without a scheme: -registry=HOST[:PORT][/PATH]"), "-registry %q is not a registry address", registry)
	}
	if eng.Local() {
		return eng, fail.New(fail.CodeUsage, fail.Run("Name a manager of the Swarm, e.g.: %s", fail.Do(fail.Sandbox, "create", "<name> -engine=ssh://MANAGER -swarm")), "-swarm needs -engine or -context")
	}
	out, err := e.Tunnel(eng).Run(ctx, nil, "docker info --format '{{.Swarm.ControlAvailable}}'")
	if err != nil || strings.TrimSpace(out) != "true" {
		return eng, fail.New(fail.CodeError, fail.Say("Run the tool against a manager (docker node ls works there), or set up a Swarm: docs/SWARM.md"),
			"engine %s is not a manager of a Swarm", eng.Name())
	}
	eng.Swarm = &engine.Swarm{Manager: eng.Endpoint, Registry: strings.TrimSuffix(registry, "/")}
	return eng, nil
}

// registryName is a registry as image names start with it: a host (with a dot or a port,
// or localhost), an optional port, an optional path.
var registryName = regexp.MustCompile(`^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|localhost|[A-Za-z0-9-]+:[0-9]+)(:[0-9]+)?(/[a-z0-9._-]+)*/?$`)

// onManager runs fn with the instance's Swarm manager, reached through a tunnel kept open
// as a remote engine's (each docker call through DOCKER_HOST=ssh:// would cost an SSH
// connection, ~0.3 s, and an up speaks to the manager before and after the node).
func (e *Env) onManager(ctx context.Context, eng engine.Engine, fn func(swarm.Manager) error) error {
	return e.atManager(ctx, eng, true, fn)
}

// atManager is onManager that, unless open, keeps no tunnel it had to start: removing a
// stack (down, destroy, gc) is the last word to the manager for a while.
func (e *Env) atManager(ctx context.Context, eng engine.Engine, open bool, fn func(swarm.Manager) error) error {
	return e.on(ctx, engine.Engine{Endpoint: eng.Swarm.Manager}, open, func(r *Env) error {
		return fn(swarm.Manager{Env: r.Vars, Poll: 100 * time.Millisecond})
	})
}

// place gives an instance on a Swarm its node, chosen by the Swarm's scheduler from the
// memory it reserves (kept while the instance lives), and records it: from then on the
// instance's engine is that node's, reached over SSH as a remote engine. No node with
// room fails here, before anything starts, with each node's figures. configOf is compose's
// configuration of the instance (what it reserves), shared with the rest of up.
func (e *Env) place(ctx context.Context, in *Instance, lc config.Lifecycle, configOf func() ([]byte, error)) error {
	manager := in.Engine.Swarm.Manager
	var node swarm.Node
	err := e.onManager(ctx, in.Engine, func(m swarm.Manager) error {
		n, placed, err := m.Placement(ctx, in.ID)
		if err != nil {
			return err
		}
		if placed {
			node, err = e.reserveAgain(ctx, m, in, n, configOf)
			return err
		}
		on := ""
		if in.Engine.Placed() { // its volumes are on its node: only there
			on = in.Engine.Swarm.Node
			if err := nodeUsable(ctx, m, in.ID, on); err != nil {
				return err
			}
		}
		image, err := e.placeholderImage(ctx, m, manager)
		if err != nil {
			return err
		}
		mem, why := e.reservation(in, configOf)
		e.say("Placing %s on the Swarm of %s (reserving %d MiB: %s)", in.ID, manager, mem>>20, why)
		node, err = m.Place(ctx, in.ID, mem, image, on, placeBound)
		if errors.Is(err, swarm.ErrNoRoom) {
			return fail.With(fail.CodeError, fail.Say("Free memory on a node (down or destroy an instance there), add a node, or undrain one"), err)
		}
		return err
	})
	if err != nil {
		if !fail.FixOf(err).IsZero() {
			return err
		}
		return fail.With(fail.CodeError, fail.Say("Check the Swarm from its manager: docker node ls"), err)
	}
	eng := engine.Engine{Endpoint: nodeEndpoint(manager, node.Addr), Swarm: &engine.Swarm{Manager: manager, Node: node.Hostname, Registry: in.Engine.Swarm.Registry}}
	if eng.Endpoint != in.Engine.Endpoint || !in.Engine.Placed() {
		err := e.updateRegistry(ctx, func(*registry.File) error { return e.records().Set(in.ID, eng) })
		if err != nil {
			return err
		}
	}
	e.say("On node %s (%s)", node.Hostname, node.Addr)
	e.trace("up: placed")
	in.Engine = eng
	return nil
}

// reserveAgain gives a placed instance's placeholder what its compose file reserves
// now, on its node n, or refuses with every node's figures. Only the compose file's
// figure counts: the most a run used changes with every run, and a placeholder updated
// at each up would be restarted for nothing.
func (e *Env) reserveAgain(ctx context.Context, m swarm.Manager, in *Instance, n swarm.Node, configOf func() ([]byte, error)) (swarm.Node, error) {
	mem, fromFile := composeReservation(in, configOf)
	if !fromFile {
		return n, nil
	}
	placed, err := m.Reserve(ctx, in.ID, mem, placeBound)
	if errors.Is(err, swarm.ErrNoRoom) {
		return n, fail.With(fail.CodeError, fail.Say("Reserve less in the compose file, or free memory on "+n.Hostname+" (down or destroy an instance there): its volumes are there"), err)
	}
	return placed, err
}

// unplaceFailedFirstUp releases the node of an instance whose first up failed after
// placing it, unless that up made volumes there (the instance's data keeps it on that
// node): its placeholder would otherwise hold memory there for an instance that never
// ran, and its next up would take it as placed, with that old reservation.
func (e *Env) unplaceFailedFirstUp(ctx context.Context, in *Instance) {
	ctx = context.WithoutCancel(ctx)
	var volumes []string
	err := e.on(ctx, in.Engine, false, func(r *Env) error {
		var err error
		volumes, err = r.Docker.VolumesOf(ctx, in.ID)
		return err
	})
	switch {
	case err != nil:
		e.warn("could not tell whether %s has volumes on node %s (%v): its placement stays", in.ID, in.Engine.Swarm.Node, err)
		return
	case len(volumes) > 0:
		e.say("%s stays placed on node %s: its volumes are there (%s)", in.ID, in.Engine.Swarm.Node, strings.Join(volumes, ", "))
		return
	}
	if err := e.unstack(ctx, in.Engine, in.ID, true); err != nil {
		e.warn("could not release the placement of %s: %v", in.ID, err)
		return
	}
	unplaced := engine.Engine{Endpoint: in.Engine.Swarm.Manager, Swarm: &engine.Swarm{Manager: in.Engine.Swarm.Manager, Registry: in.Engine.Swarm.Registry}}
	if err := e.updateRegistry(ctx, func(*registry.File) error { return e.records().Set(in.ID, unplaced) }); err != nil {
		e.warn("could not record %s as not placed: %v", in.ID, err)
		return
	}
	e.say("Released the room of %s on node %s (its first up failed)", in.ID, in.Engine.Swarm.Node)
}

// confirmPlacementAsync asks the manager, while up opens the tunnel to the node and
// checks there, whether a placed instance's placeholder runs on its node (or can again),
// as place does; in is a copy, so nothing up reads changes meanwhile. The returned
// function waits for the answer, as often as it is called.
func (e *Env) confirmPlacementAsync(ctx context.Context, in Instance, lc config.Lifecycle, configOf func() ([]byte, error)) func() error {
	done := make(chan error, 1)
	node := in.Engine.Endpoint
	go func() {
		err := e.place(ctx, &in, lc, configOf)
		if err == nil && in.Engine.Endpoint != node {
			err = fail.New(fail.CodeError, fail.Run("Run it again: %s", fail.Do(fail.Sandbox, "up", "")), "the Swarm has moved %s to %s", in.ID, in.Engine.Swarm.Node)
		}
		done <- err
	}()
	return sync.OnceValue(func() error { return <-done })
}

// swarmHead is what up on a placed instance starts before the tunnel to its node opens.
type swarmHead struct {
	placed func() error           // the manager confirms the instance's node
	config func() ([]byte, error) // compose's resolved configuration; nil: asked later
}

// swarmHeadAsync asks the manager to confirm a placed instance's node and, when nothing
// before the deploy can change the project (no pre-up hook runs, no secrets are
// fetched), compose for its configuration, while up opens the tunnel and checks the
// node: the sync waits for the configuration (it names the bind mounts), and the first
// service is deployed after the sync. The project is the one up would give compose,
// bound to the node's tunnel.
func (e *Env) swarmHeadAsync(ctx context.Context, kind config.Kind, in *Instance, o StartOptions) swarmHead {
	lc := e.Config.Lifecycle(kind)
	early := e.earlyConfig(ctx, kind, in, o)
	reserves := early // what the placement re-reserves is read from the same answer
	if reserves == nil {
		reserves = e.composeConfig(ctx, in, lc)
	}
	return swarmHead{placed: e.confirmPlacementAsync(ctx, *in, lc, reserves), config: early}
}

// earlyConfig is compose's configuration of the project up would give compose on the
// instance's engine, asked now; nil when a pre-up hook or secrets could change it.
func (e *Env) earlyConfig(ctx context.Context, kind config.Kind, in *Instance, o StartOptions) func() ([]byte, error) {
	if !e.noPreUpHook(in, o) || !o.NoSecrets && len(e.Config.Secrets) > 0 {
		return nil
	}
	bound := e.onEngine(e.Tunnel(in.Engine))
	return bound.configAsync(ctx, bound.project(in, e.Config.Lifecycle(kind), nil))
}

// nodeUsable refuses to start an instance whose node is drained, paused or down: its
// volumes are there, so it may run nowhere else, and its placeholder and services wait
// there until the node is active again.
func nodeUsable(ctx context.Context, m swarm.Manager, id, hostname string) error {
	n, err := m.NodeNamed(ctx, hostname)
	if err != nil {
		return fail.With(fail.CodeError, fail.Say("Check the Swarm from its manager: docker node ls"), err)
	}
	switch {
	case n.State != "ready":
		return fail.New(fail.CodeError, fail.Say("Bring the node back (its data is there); the manager shows it with: docker node ls"),
			"%s lives on node %s, which is %s", id, hostname, n.State)
	case n.Availability != "active":
		return fail.New(fail.CodeError, fail.Say("Make it active again, on the manager: docker node update --availability active "+hostname),
			"%s lives on node %s, whose availability is %s: the Swarm runs nothing new there", id, hostname, n.Availability)
	}
	return nil
}

// nodeEndpoint is the ssh:// endpoint of a node at addr, with the manager's user and port.
func nodeEndpoint(manager, addr string) string {
	u, err := url.Parse(manager)
	if err != nil {
		return "ssh://" + addr
	}
	port := u.Port()
	u.Host = addr
	if port != "" {
		u.Host = addr + ":" + port
	}
	return u.String()
}

// reservation is the memory the instance reserves on its Swarm, and why: what its
// compose file's services reserve, else the most it used in a run (as up records it),
// else a default. Without a directory (a new instance being seeded) the compose file is
// not read yet.
func (e *Env) reservation(in *Instance, configOf func() ([]byte, error)) (int64, string) {
	atLeast := func(b int64) int64 { return max(b, minReservation) }
	if mem, fromFile := composeReservation(in, configOf); fromFile {
		return mem, "what its compose file reserves"
	}
	if seen := e.usageHistory().Load()[in.ID]; seen.MemBytes > 0 {
		return atLeast(seen.MemBytes), "the most it used when it last ran"
	}
	return defaultReservation, "nothing says what it uses yet"
}

// composeReservation is what the instance's compose file reserves (at least the Swarm's
// floor), and whether it says anything.
func composeReservation(in *Instance, configOf func() ([]byte, error)) (int64, bool) {
	if in.Dir == "" {
		return 0, false
	}
	c, err := configOf()
	if err != nil {
		return 0, false
	}
	mem, err := stack.Reservations(c)
	if err != nil || mem <= 0 {
		return 0, false
	}
	return max(mem, minReservation), true
}

// placeholderImage makes sure every node that could be chosen has the snapshot helper
// (the placeholders' image: a node can run only what it has, nothing is pulled), built
// for that node's own platform and tagged there under one name, the helper's without a
// platform: on a Swarm of arm64 and amd64 nodes the placeholder then starts on whichever
// node the scheduler picks (a service created with --no-resolve-image has no platform
// constraint).
func (e *Env) placeholderImage(ctx context.Context, m swarm.Manager, manager string) (string, error) {
	nodes, err := m.Nodes(ctx)
	if err != nil {
		return "", fail.With(fail.CodeError, fail.Say("Check the Swarm from its manager: docker node ls"), err)
	}
	image := snapshot.HelperImage(platform.Platform{})
	usable := 0
	for _, n := range nodes {
		if n.State != "ready" || n.Availability != "active" {
			continue
		}
		usable++
		env := mergeEnv(e.Vars, map[string]string{"DOCKER_HOST": nodeEndpoint(manager, n.Addr), "DOCKER_CONTEXT": ""})
		if err := helperAs(ctx, NewCLI(env), image); err != nil {
			return "", fail.With(fail.CodeError, fail.Say("Check the node with: ssh "+n.Addr+" docker version"), fmt.Errorf("node %s: %w", n.Hostname, err))
		}
	}
	if usable == 0 {
		return "", fail.New(fail.CodeError, fail.Say("Make a node ready and active (docker node ls on the manager)"), "no node of the Swarm is ready and active")
	}
	return image, nil
}

// helperAs builds the helper for the platform of the engine c reaches, if missing (the
// one helper builder, as doctor uses it), and tags it there as image.
func helperAs(ctx context.Context, c CLI, image string) error {
	_, own, err := c.helper(ctx)
	if err != nil || own == image {
		return err
	}
	return execx.Run(ctx, execx.Cmd{Name: "docker", Args: []string{"image", "tag", own, image}, Env: c.Env, Timeout: 30 * time.Second})
}

// renderStack renders the instance's stack file from compose's configuration of it
// (configOf); what a Swarm cannot run is refused, with the whole list of it.
func renderStack(in *Instance, configOf func() ([]byte, error)) (stack.Rendered, error) {
	config, err := configOf()
	if err != nil {
		return stack.Rendered{}, fail.With(fail.CodeError, fail.Say("Check the compose file: docker compose config"), err)
	}
	r, err := stack.Render(config, stack.Options{Project: in.ID, Node: in.Engine.Swarm.Node, Registry: in.Engine.Swarm.Registry})
	if err != nil {
		return r, fail.With(fail.CodeError, fail.Say("Change the compose file for a Swarm (docs/SWARM.md says what it can run)"), err)
	}
	return r, nil
}

// refuseUndeployable renders an instance not yet placed before its placeholder reserves
// memory on a node and its checkout is copied there: a compose file the Swarm cannot run
// is refused with nothing to undo.
func refuseUndeployable(in *Instance, configOf func() ([]byte, error)) error {
	_, err := renderStack(in, configOf)
	return err
}

// composeConfig asks compose for the instance's resolved configuration once, however
// often the answer is read (the renderer's refusal and the placement's reservation).
func (e *Env) composeConfig(ctx context.Context, in *Instance, lc config.Lifecycle) func() ([]byte, error) {
	return sync.OnceValues(func() ([]byte, error) { return e.Docker.Config(ctx, e.project(in, lc, nil)) })
}

// deploy builds the instance's images on its node (through the tunnel e is bound to)
// and deploys its rendered stack through the manager, wave after wave (beforeWave runs
// before each).
func (e *Env) deploy(ctx context.Context, in *Instance, p compose.Project, build bool, r stack.Rendered, beforeWave func([]string) error) error {
	if build || !e.hasImages(ctx, r.Built) { // as compose up builds what is missing
		if err := e.Docker.Build(ctx, p, e.Err); err != nil {
			return fail.With(fail.CodeError, fail.Say("See the build output above"), err)
		}
	}
	if err := e.push(ctx, in, r); err != nil {
		return err
	}
	for _, line := range r.Ignored {
		e.say("  left out on a Swarm: %s", line)
	}
	file, err := e.keepStackFile(in, r.File)
	if err != nil {
		return fail.With(fail.CodeError, fail.Say("Check that "+e.StateDir()+" is writable"), err)
	}
	e.say("Running: docker stack deploy (stack %s, on %s, file %s)", in.ID, in.Engine.Swarm.Node, file)
	e.trace("up: images on the node")
	err = e.onManager(ctx, in.Engine, func(m swarm.Manager) error {
		idle, err := e.idleServices(ctx, in, m)
		if err != nil {
			return err
		}
		return m.Deploy(ctx, in.ID, r, swarm.DeployOptions{Idle: idle, BeforeWave: beforeWave, Progress: e.Out, Bound: deployBound})
	})
	e.trace("up: deployed")
	if err != nil {
		return fail.With(fail.CodeError, fail.Say("See the services with: docker -H "+in.Engine.Swarm.Manager+" service ls"), err)
	}
	return nil
}

// stackFile is where the stack file an instance's up deploys is kept: deployed through
// stdin, wave by wave, it is otherwise nowhere a user could read or compare it.
func (e *Env) stackFile(id string) string {
	return filepath.Join(e.StateDir(), "stacks", id+".json")
}

// keepStackFile writes the whole rendered stack file of the instance (what the last wave
// deploys) to its stackFile, and returns that path.
func (e *Env) keepStackFile(in *Instance, file []byte) (string, error) {
	path := e.stackFile(in.ID)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, atomicfile.WriteFile(path, file, 0o644)
}

// syncAndDeploy copies the checkout to a placed instance's node (through the tunnel e is
// bound to) while the waves whose services mount none of it are deployed, then forwards
// the ports here.
func (e *Env) syncAndDeploy(ctx context.Context, in *Instance, p compose.Project, build bool, config func() ([]byte, error), binds func() ([]compose.Bind, error)) error {
	r, err := renderStack(in, config) // refused before anything is copied
	if err != nil {
		return err
	}
	e.trace("up: rendered for the Swarm")
	synced, copied, err := e.startSync(ctx, in, binds)
	if err != nil {
		return err
	}
	err = e.deploy(ctx, in, p, build, r, afterCopy(in.Dir, synced.Binds, copied))
	if cerr := copied(); err == nil { // every file is there before the gate
		err = cerr
	}
	if err != nil {
		return err
	}
	return e.forward(ctx, in)
}

// afterCopy makes a wave with a service that bind-mounts a file of the checkout (dir,
// being copied to the node) wait until the copy is done. The shared data is on the node
// already (up refused otherwise).
func afterCopy(dir string, mounts []compose.Bind, copied func() error) func([]string) error {
	mounting := map[string]bool{}
	for _, b := range mounts {
		if shared.IsWithin(b.Source, dir) {
			mounting[b.Service] = true
		}
	}
	return func(wave []string) error {
		for _, svc := range wave {
			if mounting[svc] {
				return copied()
			}
		}
		return nil
	}
}

// push puts the images built for the instance into its registry, from its node (a
// plain-HTTP registry must be among every node's insecure-registries).
func (e *Env) push(ctx context.Context, in *Instance, r stack.Rendered) error {
	for _, local := range sortedKeys(r.Pushed) {
		pushed, err := e.Docker.Push(ctx, local, r.Pushed[local])
		if err != nil {
			return fail.With(fail.CodeError, fail.Say("Check that the node reaches the registry: ssh "+destination(in.Engine)+" docker push "+r.Pushed[local]+" (an HTTP registry must be in the node's insecure-registries)"),
				fmt.Errorf("push %s to %s: %w", local, r.Registry, err))
		}
		if pushed {
			e.say("  pushed %s", r.Pushed[local])
		}
	}
	return nil
}

// idleServices are the instance's services the Swarm has but that run no container on
// its node (e is bound to it): those its drain or loss stopped. The node is asked, not
// the manager: right after a node comes back the manager still believes its old tasks
// run until the node reports them dead.
func (e *Env) idleServices(ctx context.Context, in *Instance, m swarm.Manager) (map[string]bool, error) {
	type answer struct {
		cs  []compose.Container
		err error
	}
	onNode := make(chan answer, 1)
	go func() {
		cs, err := e.Docker.Containers(ctx, e.Config.ComposeProjectLabel, in.ID)
		onNode <- answer{cs, err}
	}()
	services, err := m.Services(ctx, in.ID)
	node := <-onNode
	if err == nil {
		err = node.err
	}
	if err != nil {
		return nil, fmt.Errorf("services of %s: %w", in.ID, err)
	}
	idle := map[string]bool{}
	for _, svc := range services {
		idle[svc] = true
	}
	for _, c := range node.cs {
		if c.State == "running" {
			delete(idle, c.Service)
		}
	}
	return idle, nil
}

// configAsync asks compose for the project's resolved configuration while up does the
// rest (prepare, sync); the returned function waits for it, as often as it is called.
func (e *Env) configAsync(ctx context.Context, p compose.Project) func() ([]byte, error) {
	done := make(chan struct{})
	var config []byte
	var err error
	go func() { defer close(done); config, err = e.Docker.Config(ctx, p) }()
	return func() ([]byte, error) { <-done; return config, err }
}

// hasImages reports whether the engine e is bound to has every tag.
func (e *Env) hasImages(ctx context.Context, tags map[string]string) bool {
	v := e.Docker.Volumes()
	for _, tag := range tags {
		if !v.HasImage(ctx, tag) {
			return false
		}
	}
	return true
}

// unstack removes an instance's stack from its Swarm (its volumes stay on the node), and
// with unplace its placeholder too, releasing its room.
func (e *Env) unstack(ctx context.Context, eng engine.Engine, id string, unplace bool) error {
	if eng.Swarm == nil {
		return nil
	}
	err := e.atManager(ctx, eng, false, func(m swarm.Manager) error {
		if err := m.RemoveStack(ctx, id, removeBound); err != nil {
			return err
		}
		if unplace {
			return m.Unplace(ctx, id)
		}
		return nil
	})
	if err != nil {
		return fail.With(fail.CodeError, fail.Say("Check the Swarm from its manager: docker stack ls, docker service ls"), err)
	}
	return nil
}

// closeManagerTunnelIfIdle stops the tunnel to the manager of eng's Swarm when no other
// instance there (but except) has a stack deployed: up, down and destroy speak to the
// manager through it, and the node's tunnel closing does not close it (they are two,
// unless the node is the manager). When the manager cannot say, it stays.
func (e *Env) closeManagerTunnelIfIdle(ctx context.Context, eng engine.Engine, except string) {
	if eng.Swarm == nil {
		return
	}
	tun := e.Tunnel(engine.Engine{Endpoint: eng.Swarm.Manager})
	if _, alive := tun.Alive(ctx); !alive {
		return
	}
	records, err := e.records().Load()
	if err != nil {
		return
	}
	var others []string
	for id, other := range records {
		if id != except && other.Swarm != nil && other.Swarm.Manager == eng.Swarm.Manager {
			others = append(others, id)
		}
	}
	deployed := false
	if len(others) > 0 {
		err := e.onManager(ctx, eng, func(m swarm.Manager) error {
			for _, id := range others {
				services, err := m.Services(ctx, id)
				if err != nil || len(services) > 0 {
					deployed = true
					return err
				}
			}
			return nil
		})
		if err != nil || deployed {
			return
		}
	}
	_ = tun.Stop(ctx)
	e.say("Tunnel to %s closed (no instance on its Swarm runs)", tun.Engine.Name())
}

// awaitStackGone waits, on the node e is bound to, until the Swarm has removed the
// instance's containers (a removed stack's tasks stop in the background), so compose's
// down and the teardown's checks see what is really left.
func (e *Env) awaitStackGone(ctx context.Context, in *Instance) error {
	if !in.Engine.Placed() {
		return nil
	}
	deadline := e.Now().Add(removeBound)
	for {
		cs, err := e.Docker.Containers(ctx, e.Config.ComposeProjectLabel, in.ID)
		if err == nil && len(cs) == 0 {
			return nil
		}
		if e.Now().After(deadline) {
			return fail.New(fail.CodeError, fail.Say("Check the node: docker ps on "+in.Engine.Swarm.Node), "the Swarm has not removed the containers of %s within %s", in.ID, removeBound)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// swarmUsers stops and starts the users of a placed instance's volumes through its
// Swarm: a stopped container would be replaced by the Swarm at once and write to the
// volume mid-swap, so the services that mount them are scaled to zero, and back to the
// replicas they had.
type swarmUsers struct {
	e  *Env // bound to the instance's node
	in *Instance
}

// StopUsers scales the services mounting volumes to zero and waits, through one
// connection to the manager, until the Swarm has removed their tasks, then until none
// of their containers runs on the node; it returns them as name=replicas.
func (u swarmUsers) StopUsers(ctx context.Context, volumes []string) ([]string, error) {
	bounded, cancel := context.WithTimeout(ctx, removeBound)
	defer cancel()
	var specs []string
	err := u.e.onManager(ctx, u.in.Engine, func(m swarm.Manager) error {
		var err error
		if specs, err = m.ServicesMounting(ctx, u.in.ID, volumes); err != nil || len(specs) == 0 {
			return err
		}
		zero := make([]string, len(specs))
		for i, spec := range specs {
			name, _, _ := strings.Cut(spec, "=")
			zero[i] = name + "=0"
		}
		u.e.say("Scaling to zero on the Swarm: %s", strings.Join(zero, ", "))
		if err := m.Scale(ctx, zero...); err != nil {
			return err
		}
		return m.AwaitStopped(bounded, specs)
	})
	if len(specs) == 0 {
		return nil, err // nothing mounts them, or they could not be listed
	}
	for err == nil {
		// the Swarm says its tasks ended; the node's engine is what says nothing writes
		cs, lookErr := u.e.Docker.Volumes().Running(bounded, u.in.ID)
		if lookErr == nil && !anyMounting(cs, volumes) {
			return specs, nil
		}
		select {
		case <-bounded.Done():
			err = fmt.Errorf("containers still mount %s: %w", strings.Join(volumes, ", "), bounded.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = u.Start(context.WithoutCancel(ctx), specs) // back as they were
	return nil, err
}

// Start scales the services back (name=replicas).
func (u swarmUsers) Start(ctx context.Context, specs []string) error {
	return u.e.onManager(ctx, u.in.Engine, func(m swarm.Manager) error { return m.Scale(ctx, specs...) })
}

func anyMounting(cs []snapshot.Container, volumes []string) bool {
	for _, c := range cs {
		if c.Mounting(volumes) {
			return true
		}
	}
	return false
}

// placeForSeed places a new instance on its Swarm before its volumes are seeded, so they
// are made on the node that will run it.
func (e *Env) placeForSeed(ctx context.Context, id string) error {
	eng, err := e.EngineOf(id)
	if err != nil || eng.Swarm == nil || eng.Placed() {
		return err
	}
	in := &Instance{ID: id, Engine: eng} // no directory yet: its compose file is not read
	return e.place(ctx, in, e.Config.Lifecycle(config.KindSandbox), e.composeConfig(ctx, in, e.Config.Lifecycle(config.KindSandbox)))
}

// swarmNodeAsync asks the manager, beside the rest of status, how it sees the node of a
// sandbox on a Swarm (drained, down); nil for any other instance or when it cannot say.
func (e *Env) swarmNodeAsync(ctx context.Context, in *Instance) <-chan *swarm.Node {
	done := make(chan *swarm.Node, 1)
	if !in.Engine.Placed() {
		done <- nil
		return done
	}
	go func() {
		var node *swarm.Node
		_ = e.onManager(ctx, in.Engine, func(m swarm.Manager) error {
			n, err := m.NodeNamed(ctx, in.Engine.Swarm.Node)
			if err == nil {
				node = &n
			}
			return err
		})
		done <- node
	}()
	return done
}
