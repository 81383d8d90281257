package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// SnapshotStore is where this machine keeps the project's snapshots: ~/.<project>/snapshots.
func (e *Env) SnapshotStore() snapshot.Store {
	return snapshot.Store{Root: filepath.Join(e.Home, e.Config.Home, "snapshots")}
}

func (e *Env) snapDocker() snapshot.Docker { return snapshot.Docker{Env: e.Vars} }

// ensureHelper makes sure the engine has the snapshot helper built for what its
// containers run as (another CPU than this machine's, or an emulated one), and names it.
func (e *Env) ensureHelper(ctx context.Context, d snapshot.Docker) (string, error) {
	eng, err := e.Docker.Engine(ctx)
	if err != nil {
		return "", fmt.Errorf("what the engine is: %w", err)
	}
	d.Platform = eng.Platform
	return d.EnsureHelper(ctx)
}

// meter shows each volume's copy through Progress.
type meter struct{ e *Env }

func (m meter) Volume(name string, total int64) shared.Progress {
	m.e.say("  %s (%s)", name, shared.FormatSize(total))
	return m.e.Progress.Meter(name)
}

// Snapshot copies every named volume of the instance of kind into a new snapshot (name
// generated from the time when empty). Running containers are paused for the copy only.
func (e *Env) Snapshot(ctx context.Context, kind config.Kind, name string) (snapshot.Manifest, error) {
	in, err := e.Current(kind)
	if err != nil {
		return snapshot.Manifest{}, err
	}
	r, release, err := e.at(ctx, in, false)
	if err != nil {
		return snapshot.Manifest{}, err
	}
	defer release()
	return r.snapshotOf(ctx, kind, in.ID, name)
}

func (e *Env) snapshotOf(ctx context.Context, kind config.Kind, id, name string) (snapshot.Manifest, error) {
	if name == "" {
		name = e.Now().UTC().Format("20060102-150405")
	}
	if err := snapshot.CheckName(name); err != nil {
		return snapshot.Manifest{}, fail.With(fail.CodeUsage, fail.Run("Name it, e.g.: %s", fail.Do(string(kind), "snapshot", "-name=before-migration")), err)
	}
	// The four questions to the engine go out at once: each docker call is a round trip,
	// and a snapshot's fixed cost is mostly those.
	d := e.snapDocker()
	var (
		vols                  []snapshot.Volume
		sizes                 map[string]int64
		image                 string
		running               []string
		volErr, imgErr, psErr error
		wg                    sync.WaitGroup
	)
	wg.Add(4)
	go func() { defer wg.Done(); vols, volErr = d.Volumes(ctx, id) }()
	go func() { defer wg.Done(); sizes = d.Sizes(ctx) }()
	go func() { defer wg.Done(); image, imgErr = e.ensureHelper(ctx, d) }()
	go func() { defer wg.Done(); running, psErr = d.Running(ctx, id) }()
	wg.Wait()
	if volErr != nil || psErr != nil {
		if err := e.checkDocker(ctx); err != nil {
			return snapshot.Manifest{}, err // says which part of Docker is missing
		}
		return snapshot.Manifest{}, fail.With(fail.CodeError, runDoctor, errors.Join(volErr, psErr))
	}
	if len(vols) == 0 {
		return snapshot.Manifest{}, fail.New(fail.CodeError, fail.Run("Start it once so compose creates them: %s", fail.Do(string(kind), "up", "")),
			"%s has no named volumes to snapshot", id)
	}
	names := make([]string, len(vols))
	for i := range vols {
		vols[i].Size = sizes[vols[i].Name]
		names[i] = vols[i].Name
	}
	d.RemoveHelpers(ctx, names) // a killed snapshot's helper would hold a volume
	if imgErr != nil {
		return snapshot.Manifest{}, fail.With(fail.CodeError, fail.Say("The helper image is built with the local Go toolchain and Docker; check both"), imgErr)
	}
	e.say("Snapshot %s of %s: %d volume(s), %d running container(s) paused while copying", name, id, len(vols), len(running))
	thaw, err := d.Pause(ctx, running)
	if err != nil {
		return snapshot.Manifest{}, fail.With(fail.CodeError, runDoctor, err)
	}
	defer thaw()
	store := e.SnapshotStore()
	store.Step = e.step
	m, err := store.Take(ctx, d, image, id, id, name, vols, e.Now(), meter{e})
	if err != nil {
		if ctx.Err() != nil {
			return snapshot.Manifest{}, interrupted(ctx)
		}
		return snapshot.Manifest{}, fail.With(fail.CodeError, fail.Say("Nothing was kept; check the disk under "+store.Root), err)
	}
	return m, nil
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

// Snapshots lists the snapshots of the instance at the current directory, or of every
// instance (destroyed ones included) with all or when run outside an instance.
func (e *Env) Snapshots(kind config.Kind, all bool) (SnapshotList, error) {
	instance := ""
	if !all {
		if in, err := e.Current(kind); err == nil {
			instance = in.ID
		}
	}
	list, err := e.SnapshotStore().List(instance)
	if err != nil {
		return SnapshotList{}, fail.With(fail.CodeError, fail.Say("Check "+e.SnapshotStore().Root), err)
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

// DeleteSnapshot removes a snapshot of the instance of kind, or of instance from.
func (e *Env) DeleteSnapshot(kind config.Kind, name, from string) error {
	id, err := e.snapshotOwner(kind, from)
	if err != nil {
		return err
	}
	if err := e.SnapshotStore().Delete(id, name); err != nil {
		return e.snapshotMissing(kind, name, id, err)
	}
	return nil
}

// snapshotOwner is the instance whose snapshots a command means: from (an id or a
// sandbox name), or the current instance of kind.
func (e *Env) snapshotOwner(kind config.Kind, from string) (string, error) {
	if from == "" {
		in, err := e.Current(kind)
		if err != nil {
			return "", err
		}
		return in.ID, nil
	}
	if from == e.Config.LocalProd.InstanceID || strings.HasPrefix(from, e.Config.IDPrefix) {
		return from, nil
	}
	return e.InstanceID(from)
}

func (e *Env) snapshotMissing(kind config.Kind, name, id string, err error) error {
	if errors.Is(err, snapshot.ErrNotFound) {
		return fail.New(fail.CodeError, fail.Run("See them with: %s", fail.Do(fail.Sandbox, "snapshots", "-all")),
			"no snapshot %q of %s", name, id)
	}
	return fail.With(fail.CodeError, fail.Say("Check "+e.SnapshotStore().Root), err)
}

// RestoreResult is what restore did: the snapshot, then the start.
type RestoreResult struct {
	Snapshot snapshot.Manifest
	Start    StartResult
}

// Restore gives the instance of kind the volumes of snapshot name (of instance from, or
// its own), then starts it and runs the gate. The stack is stopped first; the data is
// staged inside each volume and swapped in; a journal makes up refuse a restore that did
// not finish, and the next restore finishes it.
func (e *Env) Restore(ctx context.Context, kind config.Kind, name, from string, o StartOptions) (RestoreResult, error) {
	in, err := e.Current(kind)
	if err != nil {
		return RestoreResult{}, err
	}
	// The snapshot store is this machine's; the volumes are on the instance's engine,
	// reached (when remote) through its tunnel, as every docker call below.
	r, release, err := e.at(ctx, in, false)
	if err != nil {
		return RestoreResult{}, err
	}
	defer release()
	e = r
	src := in.ID
	if from != "" {
		if src, err = e.snapshotOwner(kind, from); err != nil {
			return RestoreResult{}, err
		}
	}
	store := e.SnapshotStore()
	m, err := store.Load(src, name)
	if err != nil {
		return RestoreResult{}, e.snapshotMissing(kind, name, src, err)
	}
	d := e.snapDocker()
	var targets []string
	for _, v := range m.Volumes {
		targets = append(targets, in.ID+"_"+v.Short)
	}
	var image string
	var imgErr error
	helperDone := make(chan struct{})
	go func() {
		defer close(helperDone)
		if image, imgErr = e.ensureHelper(ctx, d); imgErr == nil {
			d.RemoveHelpers(ctx, targets)
		}
	}()
	if err := e.composeFileCheck(in); err != nil {
		return RestoreResult{}, err
	}
	// Whether Docker and compose answer is asked while the data is staged: the swap waits
	// for the answer, so nothing changes on a machine where the stack could not start.
	dockerErr := make(chan error, 1)
	go func() { dockerErr <- e.checkDocker(ctx) }()
	dockerOK := sync.OnceValue(func() error { return <-dockerErr })
	<-helperDone
	if imgErr != nil {
		if err := dockerOK(); err != nil {
			return RestoreResult{}, err
		}
		return RestoreResult{}, fail.With(fail.CodeError, fail.Say("The helper image is built with the local Go toolchain and Docker; check both"), imgErr)
	}
	e.say("Restoring %s from snapshot %s of %s (%s)", in.ID, m.Name, m.Instance, shared.FormatSize(m.StoredBytes()))
	started := e.Now()
	// The users of the volumes stop while the data is staged beside theirs (the helpers
	// are never among them); the swap waits for both.
	var stopped []string
	var stopErr error
	stopDone := make(chan struct{})
	go func() { defer close(stopDone); stopped, stopErr = d.StopUsers(ctx, targets) }()
	beforeSwap := func() error {
		if err := dockerOK(); err != nil {
			return err
		}
		<-stopDone
		if stopErr != nil {
			return fail.With(fail.CodeError, fail.Run("Nothing was changed; check Docker with: %s", fail.Do(fail.Sandbox, "doctor", "")), stopErr)
		}
		if len(stopped) > 0 {
			e.say("Stopped %d container(s) that use these volumes", len(stopped))
		}
		if err := store.BeginRestore(in.ID, name); err != nil {
			return fail.With(fail.CodeError, fail.Say("Check "+store.Root), err)
		}
		e.step("restore:begun")
		return nil
	}
	var startErr error
	afterSwap := func() error {
		if err := store.EndRestore(in.ID); err != nil {
			return err
		}
		if len(stopped) > 0 { // it was running: start what was stopped, the rest never went down
			startErr = d.Start(ctx, stopped)
		}
		return nil
	}
	if err := store.Restore(ctx, d, image, m, in.ID, meter{e}, beforeSwap, afterSwap); err != nil {
		<-stopDone
		if _, begun := store.Interrupted(in.ID); !begun && len(stopped) > 0 {
			_ = d.Start(context.WithoutCancel(ctx), stopped) // nothing swapped: back as it was
		}
		if !fail.FixOf(err).IsZero() {
			return RestoreResult{}, err
		}
		fix := fail.Run("The volumes keep their data until a restore completes; run it again: %s", fail.Do(string(kind), "restore", "-name="+name+fromFlag(from)))
		if ctx.Err() != nil {
			return RestoreResult{}, fail.With(fail.CodeError, fix, fmt.Errorf("%w (%v)", ErrInterrupted, context.Cause(ctx)))
		}
		return RestoreResult{}, fail.With(fail.CodeError, fix, err)
	}
	res := RestoreResult{Snapshot: m}
	if len(stopped) == 0 {
		// it was not running: bring it up as up does
		res.Start, err = e.Up(ctx, kind, o)
		return res, err
	}
	if startErr != nil {
		return res, fail.With(fail.CodeError, fail.Run("The data is restored; start it with: %s", fail.Do(string(kind), "up", "")), startErr)
	}
	res.Start = StartResult{Kind: kind, Instance: in, URLs: in.Endpoints(e.Config, false)}
	if o.NoWait {
		return res, nil
	}
	res.Start, err = e.awaitGate(ctx, kind, in, o, res.Start, started)
	return res, err
}

func fromFlag(from string) string {
	if from == "" {
		return ""
	}
	return " -from=" + from
}

// checkRestore refuses to start an instance whose restore did not finish.
func (e *Env) checkRestore(kind config.Kind, in *Instance) error {
	if name, ok := e.SnapshotStore().Interrupted(in.ID); ok {
		return fail.New(fail.CodeError, fail.Run("Finish it (it resumes): %s", fail.Do(string(kind), "restore", "-name="+name)),
			"a restore of %s from snapshot %s did not finish; its volumes may hold part of each", in.ID, name)
	}
	return nil
}

// seed gives a new instance's volumes the data of source ("instance" or
// "instance:snapshot"): a named snapshot is restored; an instance is snapshotted now
// (that snapshot is removed again once restored).
func (e *Env) seed(ctx context.Context, id, source string) error {
	src, name, _ := strings.Cut(source, ":")
	owner, err := e.snapshotOwner(config.KindSandbox, src)
	if err != nil {
		return err
	}
	store := e.SnapshotStore()
	temporary := name == ""
	if temporary {
		reg, err := e.loadRegistry()
		if err != nil {
			return err
		}
		if !registered(reg, owner) {
			return fail.New(fail.CodeError, fail.Run("Name a registered instance (see %s) or instance:snapshot", fail.Do(fail.Sandbox, "list", "")),
				"cannot seed from %s: no such instance", owner)
		}
		name = "seed-for-" + strings.TrimPrefix(id, e.Config.IDPrefix) + "-" + e.Now().UTC().Format("20060102-150405")
		kind := config.KindSandbox
		if owner == e.Config.LocalProd.InstanceID {
			kind = config.KindLocalProd
		}
		if err := e.onEngineOf(ctx, owner, func(r *Env) error {
			_, err := r.snapshotOf(ctx, kind, owner, name)
			return err
		}); err != nil {
			return err
		}
		defer func() { _ = store.Delete(owner, name) }()
	}
	m, err := store.Load(owner, name)
	if err != nil {
		return e.snapshotMissing(config.KindSandbox, name, owner, err)
	}
	// the new instance's engine (recorded by the reservation) may differ from the source's
	return e.onEngineOf(ctx, id, func(r *Env) error {
		d := r.snapDocker()
		image, err := r.ensureHelper(ctx, d)
		if err != nil {
			return fail.With(fail.CodeError, fail.Say("The helper image is built with the local Go toolchain and Docker; check both"), err)
		}
		r.say("Seeding %s with snapshot %s of %s", id, m.Name, m.Instance)
		if err := store.Restore(ctx, d, image, m, id, meter{r}, nil, nil); err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx)
			}
			return fail.With(fail.CodeError, fail.Say("Nothing was kept; check Docker and the disk"), err)
		}
		return nil
	})
}

// onEngineOf runs fn with an Env on the engine of instance id (this one's when local).
func (e *Env) onEngineOf(ctx context.Context, id string, fn func(*Env) error) error {
	eng, err := e.EngineOf(id)
	if err != nil {
		return err
	}
	r, release, err := e.connect(ctx, eng, false)
	if err != nil {
		return err
	}
	defer release()
	return fn(r)
}

// removeVolumes drops the volumes a failed seed created for a new instance, on its engine.
func (e *Env) removeVolumes(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	_ = e.onEngineOf(ctx, id, func(r *Env) error {
		d := r.snapDocker()
		vols, err := d.Volumes(ctx, id)
		if err != nil {
			return err
		}
		var names []string
		for _, v := range vols {
			names = append(names, v.Name)
		}
		return d.RemoveVolumes(ctx, names...)
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
func (e *Env) orphanVolumes(ctx context.Context, reg *registry.File) ([]OrphanVolume, error) {
	out, err := e.snapDocker().AllVolumes(ctx)
	if err != nil {
		return nil, err
	}
	sizes := e.snapDocker().Sizes(ctx)
	repos := e.repos(ctx, reg)
	var orphans []OrphanVolume
	for _, v := range out {
		if !e.isOurs(v.Project) || registered(reg, v.Project) {
			continue
		}
		kept := false
		for _, repo := range repos {
			if _, err := os.Stat(filepath.Join(filepath.Dir(repo), v.Project)); err == nil {
				kept = true
			}
		}
		if !kept {
			orphans = append(orphans, OrphanVolume{Name: v.Name, Project: v.Project, Bytes: sizes[v.Name]})
		}
	}
	return orphans, nil
}

// thawLeftovers unpauses containers a snapshot killed mid-copy left paused.
func (e *Env) thawLeftovers(ctx context.Context, id string) {
	d := e.snapDocker()
	if ids, err := d.Paused(ctx, id); err == nil && len(ids) > 0 {
		e.say("Unpausing %d container(s) an interrupted snapshot left paused", len(ids))
		_ = d.Unpause(ctx, ids)
	}
}

// snapshotBeforeLoss takes a snapshot before volumes are removed, named after why. An
// instance with no volumes (never started) has nothing to lose; Docker not answering
// means nothing can be removed either, so both just say so.
func (e *Env) snapshotBeforeLoss(ctx context.Context, kind config.Kind, id, why string) (string, error) {
	var taken string
	err := e.onEngineOf(ctx, id, func(r *Env) error {
		var err error
		taken, err = r.snapshotBeforeLossHere(ctx, kind, id, why)
		return err
	})
	return taken, err
}

// snapshotBeforeLossHere is snapshotBeforeLoss on an Env already on the instance's engine.
func (e *Env) snapshotBeforeLossHere(ctx context.Context, kind config.Kind, id, why string) (string, error) {
	if _, _, err := e.Docker.Versions(ctx); err != nil {
		return "", nil
	}
	vols, err := e.snapDocker().Volumes(ctx, id)
	if err != nil || len(vols) == 0 {
		return "", nil
	}
	name := why + "-" + e.Now().UTC().Format("20060102-150405")
	m, err := e.snapshotOf(ctx, kind, id, name)
	if err != nil {
		return "", err
	}
	e.say("✓ Snapshot %s kept (%s) in %s", m.Name, shared.FormatSize(m.StoredBytes()), m.Dir)
	return m.Name, nil
}

// removeHelpersOf removes helper containers a killed snapshot or restore left on the
// instance's volumes, so compose can remove them.
func (e *Env) removeHelpersOf(ctx context.Context, id string) {
	d := e.snapDocker()
	vols, err := d.Volumes(ctx, id)
	if err != nil || len(vols) == 0 {
		return
	}
	names := make([]string, len(vols))
	for i, v := range vols {
		names[i] = v.Name
	}
	d.RemoveHelpers(ctx, names)
}
