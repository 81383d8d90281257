package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// Snapshots takes, lists, deletes and restores copies of instances' volumes, and seeds
// new instances from them. It owns the store (always this machine's) and reaches the
// volumes through its Env's Docker: bound to an instance's engine, that is the engine's.
type Snapshots struct {
	env   *Env
	store snapshot.Store
}

// Snapshots is the snapshot side of e.
func (e *Env) Snapshots() *Snapshots { return &Snapshots{env: e, store: e.SnapshotStore()} }

// SnapshotStore is where this machine keeps the project's snapshots: ~/.<project>/snapshots.
func (e *Env) SnapshotStore() snapshot.Store {
	return snapshot.Store{Root: filepath.Join(e.Home, e.Config.Home, "snapshots")}
}

// meter shows each volume's copy through Progress.
type meter struct{ e *Env }

func (m meter) Volume(name string, total int64) shared.Progress {
	if total > 0 {
		m.e.say("  %s (about %s)", name, shared.FormatSize(total))
	} else {
		m.e.say("  %s", name)
	}
	return m.e.Progress.Meter(name)
}

var checkHelper = fail.Say("The helper image is built with the local Go toolchain and Docker; check both")

// Take copies every named volume of the instance of kind into a new snapshot (name
// generated from the time when empty). Running containers are paused for the copy only.
func (s *Snapshots) Take(ctx context.Context, kind config.Kind, name string) (snapshot.Manifest, error) {
	in, err := s.env.Current(kind)
	if err != nil {
		return snapshot.Manifest{}, err
	}
	var m snapshot.Manifest
	err = s.env.on(ctx, in.Engine, false, func(r *Env) error {
		m, err = r.Snapshots().take(ctx, kind, in.ID, name)
		return err
	})
	return m, err
}

// take is Take on an Env bound to the instance's engine.
func (s *Snapshots) take(ctx context.Context, kind config.Kind, id, name string) (snapshot.Manifest, error) {
	e := s.env
	if name == "" {
		name = e.Now().UTC().Format("20060102-150405")
	}
	if err := snapshot.CheckName(name); err != nil {
		return snapshot.Manifest{}, fail.With(fail.CodeUsage, fail.Run("Name it, e.g.: %s", fail.Do(string(kind), "snapshot", "-name=before-migration")), err)
	}
	e.trace("snapshot: instance known")
	v := e.Docker.Volumes()
	vols, writers, from, err := s.inventory(ctx, v, id)
	if err != nil {
		return snapshot.Manifest{}, err
	}
	e.trace("snapshot: volumes, writers and helper known")
	if err := e.checkRunsFor(ctx, id); err != nil {
		return snapshot.Manifest{}, err
	}
	if len(vols) == 0 {
		return snapshot.Manifest{}, fail.New(fail.CodeError, fail.Run("Start it once so compose creates them: %s", fail.Do(string(kind), "up", "")),
			"%s has no named volumes to snapshot", id)
	}
	e.say("Snapshot %s of %s: %d volume(s), %d running container(s) that mount them paused while copying", name, id, len(vols), len(writers))
	leftovers := make(chan struct{}) // helpers a killed snapshot left: removed meanwhile
	go func() { defer close(leftovers); v.RemoveHelpers(ctx, snapshot.Names(vols)) }()
	defer func() { <-leftovers }()
	thaw := func() {}
	q := snapshot.Quiesce{
		Pause: func() error {
			t, err := v.Pause(ctx, writers)
			if err != nil {
				return fail.With(fail.CodeError, runDoctor, err)
			}
			thaw = t
			e.trace("snapshot: writers paused")
			return nil
		},
		Thaw: func() { thaw(); e.trace("snapshot: writers thawed") },
		From: from,
	}
	store := s.store
	store.Step = e.step
	m, err := v.Take(ctx, store, id, name, vols, e.Now(), meter{e}, q)
	e.trace("snapshot: copied, durable, manifest written")
	if err != nil {
		if ctx.Err() != nil {
			return snapshot.Manifest{}, interrupted(ctx)
		}
		if !fail.FixOf(err).IsZero() {
			return snapshot.Manifest{}, err
		}
		return snapshot.Manifest{}, fail.With(fail.CodeError, fail.Say("Nothing was kept; check the disk under "+store.Root), err)
	}
	return m, nil
}

// lastSizes are the volumes' sizes in the instance's newest snapshot, by short name
// (none when it has none).
func (s *Snapshots) lastSizes(id string) map[string]int64 {
	out := map[string]int64{}
	if list, err := s.store.List(id); err == nil && len(list) > 0 {
		for _, v := range list[0].Volumes {
			out[v.Short] = v.TarBytes
		}
	}
	return out
}

// inventory asks the engine at once for what a snapshot needs: the instance's volumes,
// its running containers, and a helper image (each docker call is a round trip, and a
// small snapshot's time is mostly those). The writers are the running containers that
// mount one of the volumes: only they can change them. The sizes, for progress, are the
// last snapshot's: the engine's own (docker system df -v) cost more than the rest of the
// inventory together.
func (s *Snapshots) inventory(ctx context.Context, v Volumes, id string) ([]snapshot.Volume, []string, map[string]snapshot.Source, error) {
	var (
		vols                  []snapshot.Volume
		running               []snapshot.Container
		volErr, imgErr, psErr error
		wg                    sync.WaitGroup
	)
	wg.Add(3)
	go func() { defer wg.Done(); vols, volErr = v.Of(ctx, id) }()
	go func() { defer wg.Done(); imgErr = v.ReadHelper(ctx) }()
	go func() { defer wg.Done(); running, psErr = v.Running(ctx, id) }()
	sizes := s.lastSizes(id)
	wg.Wait()
	if volErr != nil || psErr != nil {
		if err := s.env.checkDocker(ctx); err != nil {
			return nil, nil, nil, err // says which part of Docker is missing
		}
		return nil, nil, nil, fail.With(fail.CodeError, runDoctor, errors.Join(volErr, psErr))
	}
	for i := range vols {
		vols[i].Size = sizes[vols[i].Short]
	}
	names := snapshot.Names(vols)
	var writers []string
	from := map[string]snapshot.Source{} // a volume is read from a writer that mounts it
	for _, c := range running {
		if c.Mounting(names) {
			writers = append(writers, c.ID)
		}
		for _, name := range names {
			if at := c.At[name]; at != "" {
				from[name] = snapshot.Source{Container: c.ID, Path: at}
			}
		}
	}
	if imgErr != nil && len(vols) > 0 {
		return nil, nil, nil, fail.With(fail.CodeError, checkHelper, imgErr)
	}
	return vols, writers, from, nil
}

// SnapshotList is what snapshots lists.
type SnapshotList struct {
	Snapshots []SnapshotRow `json:"snapshots"`
}

// SnapshotRow is one snapshot in a list.
type SnapshotRow struct {
	Name        string `json:"name"`
	Instance    string `json:"instance"`
	Registered  bool   `json:"instance_registered"` // false: the instance was destroyed
	CreatedAt   string `json:"created_at"`
	StoredBytes int64  `json:"stored_bytes"`
	DataBytes   int64  `json:"data_bytes"`
	Volumes     int    `json:"volumes"`
	Path        string `json:"path"`
}

// List lists the snapshots of the instance at the current directory, or of every
// instance (destroyed ones included) with all or when run outside an instance.
func (s *Snapshots) List(kind config.Kind, all bool) (SnapshotList, error) {
	e := s.env
	instance := ""
	if !all {
		if in, err := e.Current(kind); err == nil {
			instance = in.ID
		}
	}
	list, err := s.store.List(instance)
	if err != nil {
		return SnapshotList{}, fail.With(fail.CodeError, fail.Say("Check "+s.store.Root), err)
	}
	reg, _ := e.RegistryStore().Load()
	out := SnapshotList{Snapshots: []SnapshotRow{}}
	for _, m := range list {
		r := SnapshotRow{Name: m.Name, Instance: m.Instance, CreatedAt: Timestamp(m.CreatedAt), StoredBytes: m.StoredBytes(), Volumes: len(m.Volumes), Path: m.Dir}
		for _, v := range m.Volumes {
			r.DataBytes += v.TarBytes
		}
		r.Registered = reg != nil && registered(reg, m.Instance)
		out.Snapshots = append(out.Snapshots, r)
	}
	return out, nil
}

// Delete removes a snapshot of the instance of kind, or of instance from.
func (s *Snapshots) Delete(kind config.Kind, name, from string) error {
	id, err := s.owner(kind, from)
	if err != nil {
		return err
	}
	if err := s.store.Delete(id, name); err != nil {
		return s.missing(name, id, err)
	}
	return nil
}

// owner is the instance whose snapshots a command means: from (an id or a sandbox
// name), or the current instance of kind.
func (s *Snapshots) owner(kind config.Kind, from string) (string, error) {
	e := s.env
	if from == "" {
		in, err := e.Current(kind)
		if err != nil {
			return "", err
		}
		return in.ID, nil
	}
	if from == e.Config.LocalProd.InstanceID || strings.HasPrefix(from, e.Config.IDPrefix) {
		if err := snapshot.CheckInstance(from); err != nil {
			return "", fail.With(fail.CodeUsage, fail.Run("Give an instance id or a sandbox name (see %s)", fail.Do(fail.Sandbox, "list", "")), err)
		}
		return from, nil
	}
	return e.InstanceID(from)
}

// missing is the error for a snapshot the store does not have (or cannot read).
func (s *Snapshots) missing(name, id string, err error) error {
	if errors.Is(err, snapshot.ErrNotFound) {
		return fail.New(fail.CodeError, fail.Run("See them with: %s", fail.Do(fail.Sandbox, "snapshots", "-all")),
			"no snapshot %q of %s", name, id)
	}
	if errors.Is(err, snapshot.ErrBadName) {
		return fail.With(fail.CodeUsage, fail.Run("See the snapshots and their names with: %s", fail.Do(fail.Sandbox, "snapshots", "-all")), err)
	}
	return fail.With(fail.CodeError, fail.Say("Check "+s.store.Root), err)
}

// RestoreResult is what restore did: the snapshot, then the start.
type RestoreResult struct {
	Snapshot snapshot.Manifest
	Start    StartResult
}

// Restore gives the instance of kind the volumes of snapshot name (of instance from, or
// its own), then starts it and runs the gate. The users of the volumes are stopped; the
// data is staged inside each volume and swapped in; a journal makes up refuse a restore
// that did not finish, and the next restore finishes it.
func (s *Snapshots) Restore(ctx context.Context, kind config.Kind, name, from string, o StartOptions) (RestoreResult, error) {
	in, err := s.env.Current(kind)
	if err != nil {
		return RestoreResult{}, err
	}
	if in.Engine.Swarm != nil && !in.Engine.Placed() {
		// never up yet: its volumes are made where the Swarm will run it
		lc := s.env.Config.Lifecycle(kind)
		if err := s.env.place(ctx, in, lc, s.env.composeConfig(ctx, in, lc)); err != nil {
			return RestoreResult{}, err
		}
	}
	src := in.ID
	if from != "" {
		if src, err = s.owner(kind, from); err != nil {
			return RestoreResult{}, err
		}
	}
	m, err := s.store.Load(src, name)
	if err != nil {
		return RestoreResult{}, s.missing(name, src, err)
	}
	// The store is this machine's; the volumes are on the instance's engine, reached
	// (when remote) through its tunnel, as every docker call below.
	var res RestoreResult
	err = s.env.on(ctx, in.Engine, false, func(r *Env) error {
		res, err = r.Snapshots().restore(ctx, kind, in, m, restoreAgain(kind, name, from), o)
		return err
	})
	return res, err
}

// restoreAgain is the remedy of a restore that did not finish: the same restore.
func restoreAgain(kind config.Kind, name, from string) fail.Remedy {
	return fail.Run("The volumes keep their data until a restore completes; run it again: %s", fail.Do(string(kind), "restore", "-name="+name+fromFlag(from)))
}

// fromFlag is " -from=ID" when a restore named another instance's snapshot.
func fromFlag(from string) string {
	if from == "" {
		return ""
	}
	return " -from=" + from
}

// restore is Restore on an Env bound to the instance's engine.
func (s *Snapshots) restore(ctx context.Context, kind config.Kind, in *Instance, m snapshot.Manifest, again fail.Remedy, o StartOptions) (RestoreResult, error) {
	e := s.env
	v := e.Docker.Volumes()
	targets := make([]string, len(m.Volumes))
	for i, vol := range m.Volumes {
		targets[i] = in.ID + "_" + vol.Short
	}
	helperDone := make(chan error, 1)
	known, _ := e.knownPlatform(in.Engine)
	go func() {
		err := v.Helper(ctx, known)
		if err == nil {
			v.RemoveHelpers(ctx, targets)
		}
		helperDone <- err
	}()
	if err := e.composeFileCheck(in); err != nil {
		return RestoreResult{}, err
	}
	// Whether Docker and compose answer is asked while the data is staged: the swap waits
	// for the answer, so nothing changes on a machine where the stack could not start.
	dockerErr := make(chan error, 1)
	go func() { dockerErr <- e.checkDocker(ctx) }()
	dockerOK := sync.OnceValue(func() error { return <-dockerErr })
	if err := <-helperDone; err != nil {
		if derr := dockerOK(); derr != nil {
			return RestoreResult{}, derr
		}
		return RestoreResult{}, fail.With(fail.CodeError, checkHelper, err)
	}
	e.trace("restore: helper ready, docker checked")
	if err := e.checkRunsFor(ctx, in.ID); err != nil {
		return RestoreResult{}, err
	}
	e.say("Restoring %s from snapshot %s of %s (%s)", in.ID, m.Name, m.Instance, shared.FormatSize(m.StoredBytes()))
	started := e.Now()
	var users volumeUsers = v
	if in.Engine.Placed() {
		users = swarmUsers{e: e, in: in}
	}
	stopped, err := s.swapIn(ctx, v, users, in.ID, m, targets, dockerOK, again)
	if err != nil {
		return RestoreResult{}, err
	}
	e.trace("restore: staged, swapped, users started")
	return s.startAfterRestore(ctx, kind, in, m, stopped, o, started)
}

// volumeUsers stops the running users of volumes and starts them again: the engine's
// containers, or on a Swarm the services that run them.
type volumeUsers interface {
	StopUsers(ctx context.Context, volumes []string) ([]string, error)
	Start(ctx context.Context, stopped []string) error
}

// swapIn stops the volumes' users while the data is staged beside theirs (the helpers
// are never among them), swaps it in under the journal, and starts what it stopped. It
// returns the users it stopped and, in the error of a failed start, what to do.
func (s *Snapshots) swapIn(ctx context.Context, v Volumes, users volumeUsers, id string, m snapshot.Manifest, targets []string, dockerOK func() error, again fail.Remedy) (swapped, error) {
	e := s.env
	var res swapped
	var stopErr error
	stopDone := make(chan struct{})
	go func() {
		defer close(stopDone)
		res.stopped, stopErr = users.StopUsers(ctx, targets)
		e.trace("restore: users stopped")
	}()
	beforeSwap := func() error {
		e.trace("restore: staged")
		if err := dockerOK(); err != nil {
			return err
		}
		<-stopDone
		if stopErr != nil {
			return fail.With(fail.CodeError, fail.Run("Nothing was changed; check Docker with: %s", fail.Do(fail.Sandbox, "doctor", "")), stopErr)
		}
		if len(res.stopped) > 0 {
			e.say("Stopped %d user(s) of these volumes", len(res.stopped))
		}
		if err := s.store.BeginRestore(id, m.Name); err != nil {
			return fail.With(fail.CodeError, fail.Say("Check "+s.store.Root), err)
		}
		e.step("restore:begun")
		return nil
	}
	afterSwap := func() error {
		e.trace("restore: swapped")
		if err := s.store.EndRestore(id); err != nil {
			return err
		}
		if len(res.stopped) > 0 { // it was running: start what was stopped, the rest never went down
			res.startErr = users.Start(ctx, res.stopped)
		}
		return nil
	}
	if err := v.Restore(ctx, s.store, m, id, meter{e}, beforeSwap, afterSwap); err != nil {
		<-stopDone
		if _, begun := s.store.Interrupted(id); !begun && len(res.stopped) > 0 {
			_ = users.Start(context.WithoutCancel(ctx), res.stopped) // nothing swapped: back as it was
		}
		switch {
		case !fail.FixOf(err).IsZero():
			return res, err
		case ctx.Err() != nil:
			return res, fail.With(fail.CodeError, again, fmt.Errorf("%w (%v)", ErrInterrupted, context.Cause(ctx)))
		}
		return res, fail.With(fail.CodeError, again, err)
	}
	return res, nil
}

// swapped is what swapIn did to the volumes' users.
type swapped struct {
	stopped  []string // the containers it stopped (and started again)
	startErr error    // starting them again failed
}

// startAfterRestore brings the instance back: up when it was not running, the gate when
// its containers were restarted.
func (s *Snapshots) startAfterRestore(ctx context.Context, kind config.Kind, in *Instance, m snapshot.Manifest, sw swapped, o StartOptions, started time.Time) (RestoreResult, error) {
	e := s.env
	res := RestoreResult{Snapshot: m}
	var err error
	if len(sw.stopped) == 0 {
		// it was not running: bring it up as up does
		res.Start, err = e.Up(ctx, kind, o)
		return res, err
	}
	if sw.startErr != nil {
		return res, fail.With(fail.CodeError, fail.Run("The data is restored; start it with: %s", fail.Do(string(kind), "up", "")), sw.startErr)
	}
	res.Start = StartResult{Kind: kind, Instance: in, URLs: in.Endpoints(e.Config, false)}
	if o.NoWait {
		return res, nil
	}
	res.Start, err = e.awaitGate(ctx, kind, in, o, res.Start, started)
	return res, err
}

// checkRestore refuses to start an instance whose restore did not finish.
func (s *Snapshots) checkRestore(kind config.Kind, in *Instance) error {
	if name, ok := s.store.Interrupted(in.ID); ok {
		return fail.New(fail.CodeError, fail.Run("Finish it (it resumes): %s", fail.Do(string(kind), "restore", "-name="+name)),
			"a restore of %s from snapshot %s did not finish; its volumes may hold part of each", in.ID, name)
	}
	return nil
}

// seed gives a new instance's volumes the data of source ("instance" or
// "instance:snapshot"): a named snapshot is restored; an instance is snapshotted now
// (that snapshot is removed again once restored).
func (s *Snapshots) seed(ctx context.Context, id, source string) error {
	e := s.env
	src, name, _ := strings.Cut(source, ":")
	owner, err := s.owner(config.KindSandbox, src)
	if err != nil {
		return err
	}
	if name == "" {
		name = "seed-for-" + strings.TrimPrefix(id, e.Config.IDPrefix) + "-" + e.Now().UTC().Format("20060102-150405")
		if err := s.takeForSeed(ctx, owner, name); err != nil {
			return err
		}
		defer func() { _ = s.store.Delete(owner, name) }()
	}
	m, err := s.store.Load(owner, name)
	if err != nil {
		return s.missing(name, owner, err)
	}
	if err := e.placeForSeed(ctx, id); err != nil {
		return err
	}
	// the new instance's engine (recorded by the reservation, or its Swarm node) may
	// differ from the source's
	return e.onEngineOf(ctx, id, func(r *Env) error {
		v := r.Docker.Volumes()
		if err := v.Helper(ctx, platform.Platform{}); err != nil {
			return fail.With(fail.CodeError, checkHelper, err)
		}
		if err := r.checkRunsFor(ctx, id); err != nil {
			return err
		}
		r.say("Seeding %s with snapshot %s of %s", id, m.Name, m.Instance)
		if err := v.Restore(ctx, s.store, m, id, meter{r}, nil, nil); err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx)
			}
			return fail.With(fail.CodeError, fail.Say("Nothing was kept; check Docker and the disk"), err)
		}
		return nil
	})
}

// takeForSeed snapshots a registered instance, on its engine, for a seed.
func (s *Snapshots) takeForSeed(ctx context.Context, owner, name string) error {
	e := s.env
	reg, err := e.loadRegistry()
	if err != nil {
		return err
	}
	if !registered(reg, owner) {
		return fail.New(fail.CodeError, fail.Run("Name a registered instance (see %s) or instance:snapshot", fail.Do(fail.Sandbox, "list", "")),
			"cannot seed from %s: no such instance", owner)
	}
	kind := config.KindSandbox
	if owner == e.Config.LocalProd.InstanceID {
		kind = config.KindLocalProd
	}
	return e.onEngineOf(ctx, owner, func(r *Env) error {
		_, err := r.Snapshots().take(ctx, kind, owner, name)
		return err
	})
}

// removeVolumes drops the volumes a failed seed created for a new instance, on its engine.
func (s *Snapshots) removeVolumes(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	_ = s.env.onEngineOf(ctx, id, func(r *Env) error {
		v := r.Docker.Volumes()
		vols, err := v.Of(ctx, id)
		if err != nil {
			return err
		}
		var names []string
		for _, vol := range vols {
			names = append(names, vol.Name)
		}
		return v.Remove(ctx, names...)
	})
}

// OrphanVolume is a volume of this tool's compose project that nothing owns.
type OrphanVolume struct {
	Name    string `json:"name"`
	Project string `json:"project"`
	Bytes   int64  `json:"bytes"`
	Removed bool   `json:"removed"`
	Error   string `json:"error,omitempty"`
}

// orphanVolumes finds volumes whose compose project is named like this tool's instances,
// has no registry entry, and has no directory beside a known repository (an
// unregistered worktree may still be adopted).
func (s *Snapshots) orphanVolumes(ctx context.Context, v Volumes, reg *registry.File) ([]OrphanVolume, error) {
	e := s.env
	out, err := v.All(ctx)
	if err != nil {
		return nil, err
	}
	sizes := v.Sizes(ctx)
	repos := e.repos(ctx, reg)
	var orphans []OrphanVolume
	for _, vol := range out {
		if !e.isOurs(vol.Project) || registered(reg, vol.Project) {
			continue
		}
		kept := false
		for _, repo := range repos {
			if _, err := os.Stat(filepath.Join(filepath.Dir(repo), vol.Project)); err == nil {
				kept = true
			}
		}
		if !kept {
			orphans = append(orphans, OrphanVolume{Name: vol.Name, Project: vol.Project, Bytes: sizes[vol.Name]})
		}
	}
	return orphans, nil
}

// thawLeftovers unpauses containers a snapshot killed mid-copy left paused.
func (s *Snapshots) thawLeftovers(ctx context.Context, id string) {
	v := s.env.Docker.Volumes()
	if ids, err := v.Paused(ctx, id); err == nil && len(ids) > 0 {
		s.env.say("Unpausing %d container(s) an interrupted snapshot left paused", len(ids))
		_ = v.Unpause(ctx, ids)
	}
}

// beforeLoss takes a snapshot before volumes are removed, named after why, on the
// instance's engine. An instance with no volumes (never started) has nothing to lose;
// Docker not answering means nothing can be removed either, so both just say so.
func (s *Snapshots) beforeLoss(ctx context.Context, kind config.Kind, id, why string) (string, error) {
	var taken string
	err := s.env.onEngineOf(ctx, id, func(r *Env) error {
		var err error
		taken, err = r.Snapshots().beforeLossHere(ctx, kind, id, why)
		return err
	})
	return taken, err
}

// beforeLossHere is beforeLoss on an Env already on the instance's engine.
func (s *Snapshots) beforeLossHere(ctx context.Context, kind config.Kind, id, why string) (string, error) {
	e := s.env
	if _, _, err := e.Docker.Versions(ctx); err != nil {
		return "", nil
	}
	vols, err := e.Docker.Volumes().Of(ctx, id)
	if err != nil || len(vols) == 0 {
		return "", nil
	}
	m, err := s.take(ctx, kind, id, why+"-"+e.Now().UTC().Format("20060102-150405"))
	if err != nil {
		return "", err
	}
	e.say("✓ Snapshot %s kept (%s) in %s", m.Name, shared.FormatSize(m.StoredBytes()), m.Dir)
	return m.Name, nil
}

// removeHelpersOf removes helper containers a killed snapshot or restore left on the
// instance's volumes, so compose can remove them.
func (s *Snapshots) removeHelpersOf(ctx context.Context, id string) {
	v := s.env.Docker.Volumes()
	vols, err := v.Of(ctx, id)
	if err != nil || len(vols) == 0 {
		return
	}
	v.RemoveHelpers(ctx, snapshot.Names(vols))
}
