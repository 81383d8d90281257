package core

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// repos are the repositories whose worktrees gc and doctor look at: every registered
// sandbox's parent and the repository of the current directory.
func (e *Env) repos(ctx context.Context, reg *registry.File) []string {
	set := map[string]bool{}
	for _, in := range reg.Instances {
		if in.ParentRepo != nil && exists(*in.ParentRepo) {
			set[*in.ParentRepo] = true
		}
	}
	if top, err := e.Git.TopLevel(ctx, e.Cwd); err == nil {
		if repo, err := e.Git.MainRepo(ctx, top); err == nil {
			set[repo] = true
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

type worktreeRef struct{ repo, path string }

// unregisteredWorktrees are the linked worktrees named like this tool's sandboxes that no
// entry records.
func (e *Env) unregisteredWorktrees(ctx context.Context, reg *registry.File) []worktreeRef {
	var out []worktreeRef
	for _, repo := range e.repos(ctx, reg) {
		list, err := e.Git.WorktreeList(ctx, repo)
		if err != nil {
			continue
		}
		for i, wt := range list {
			if i == 0 || !strings.HasPrefix(filepath.Base(wt.Path), e.Config.IDPrefix) {
				continue
			}
			if reg.ByPath(wt.Path) == nil && !reg.IsLocalProdPath(wt.Path) {
				out = append(out, worktreeRef{repo: repo, path: wt.Path})
			}
		}
	}
	return out
}

// GCAction says what gc found about one thing.
type GCAction string

const (
	StaleEntry       GCAction = "stale_entry"           // registry entry whose directory is gone
	OrphanedProject  GCAction = "orphaned_project"      // containers of a project no entry owns
	LooseWorktree    GCAction = "unregistered_worktree" // sandbox-named worktree no entry owns
	KeptWorktree     GCAction = "kept_worktree"         // such a worktree that may hold work
	LocalProdMissing GCAction = "local_prod_missing"    // reported only: destroy clears it
	OrphanedVolume   GCAction = "orphaned_volume"       // volume of a project nothing owns (-volumes)
	LeftImage        GCAction = "left_image"            // image an instance or an old helper left (-images)
	// KeptEntry: a stale entry on a remote engine that did not answer: its containers
	// there cannot be confirmed gone, so the entry that finds them is kept.
	KeptEntry GCAction = "kept_entry"
)

// GCItem is one thing gc found, and what became of it.
type GCItem struct {
	Action  GCAction
	Target  string   // instance id, project name or worktree path
	Path    string   // the directory a stale entry pointed to
	Changes []string // uncommitted changes that kept a worktree
	Error   string   // why it was kept: git could not check it, or refused to remove it
	Volumes []string // volumes of an orphaned project, kept (they may hold data)
	Bytes   int64    // an orphaned volume's size
	Done    bool     // removed (never in a dry run)
}

// GCReport is everything gc found and did.
type GCReport struct {
	DryRun bool
	Items  []GCItem
	// DockerSkipped says why compose projects were not looked at.
	DockerSkipped string
}

// Removable counts the items gc removes (or would, in a dry run).
func (r GCReport) Removable() int {
	n := 0
	for _, it := range r.Items {
		if it.Action == StaleEntry || it.Action == OrphanedProject || it.Action == LooseWorktree || it.Action == OrphanedVolume || it.Action == LeftImage {
			n++
		}
	}
	return n
}

// GCOptions are the flags of gc.
type GCOptions struct {
	DryRun  bool
	Volumes bool // also orphaned volumes: listed with sizes, removed with Force or a yes
	Force   bool
	Images  bool // also images instances and old helpers left (rebuilt on demand: no question)
}

// GC removes what a crash or a hand-deleted directory left behind, and only what cannot
// hold user work: registry entries whose directory is gone, the containers of compose
// projects of this tool that no entry owns (their volumes are listed, not removed), and
// unregistered sandbox worktrees with no uncommitted changes (their branches are kept).
func (e *Env) GC(ctx context.Context, o GCOptions) (GCReport, error) {
	reg, err := e.loadRegistry()
	if err != nil {
		return GCReport{}, err
	}
	rep := GCReport{DryRun: o.DryRun}
	if err := e.gcEntries(ctx, reg, o.DryRun, &rep); err != nil {
		return rep, err
	}
	if err := e.gcProjects(ctx, reg, o.DryRun, &rep); err != nil {
		return rep, err
	}
	e.gcWorktrees(ctx, reg, o.DryRun, &rep)
	if o.Volumes {
		if err := e.gcVolumes(ctx, reg, o, &rep); err != nil {
			return rep, err
		}
	}
	if o.Images {
		e.gcImages(ctx, reg, o.DryRun, &rep)
	}
	return rep, nil
}

// gcEntries drops registry entries whose directory is gone. One on a remote engine
// first has its containers there removed; when that engine does not answer, the entry
// is kept (it is what finds them later). The registry is written first, the engine
// records after it (see decisions: writes in a safe order).
func (e *Env) gcEntries(ctx context.Context, reg *registry.File, dryRun bool, rep *GCReport) error {
	engines, err := e.records().Load()
	if err != nil {
		return fail.With(fail.CodeError, fail.Say("Fix the file or move it away"), err)
	}
	var stale []string
	for _, in := range reg.Sorted() {
		if exists(in.Path) {
			continue
		}
		if eng := engines[in.InstanceID]; !eng.Local() {
			if err := e.stopOnEngine(ctx, eng, in, dryRun); err != nil {
				rep.Items = append(rep.Items, GCItem{Action: KeptEntry, Target: in.InstanceID, Path: in.Path, Error: err.Error()})
				continue
			}
		}
		stale = append(stale, in.InstanceID)
		rep.Items = append(rep.Items, GCItem{Action: StaleEntry, Target: in.InstanceID, Path: in.Path, Done: !dryRun})
	}
	if reg.LocalProd != nil && !exists(reg.LocalProd.Path) {
		rep.Items = append(rep.Items, GCItem{Action: LocalProdMissing, Target: reg.LocalProd.InstanceID, Path: reg.LocalProd.Path})
	}
	if dryRun || len(stale) == 0 {
		return nil
	}
	var dropped []string
	err = e.updateRegistryThen(ctx, func(f *registry.File) error {
		for _, id := range stale {
			if in, ok := f.Instances[id]; ok && !exists(in.Path) {
				delete(f.Instances, id)
				dropped = append(dropped, id)
			}
		}
		return nil
	}, func() {
		for _, id := range dropped {
			if err := e.records().Set(id, engine.Engine{}); err != nil {
				e.warn("could not update %s: %v", e.records().Path, err)
			}
		}
	})
	if err != nil {
		return err
	}
	for _, repo := range e.repos(ctx, reg) {
		_ = e.Git.WorktreePrune(ctx, repo)
	}
	return nil
}

// gcProjects removes the containers of compose projects named like this tool's that no
// entry owns; their volumes are listed, not removed (they may hold data: -volumes).
func (e *Env) gcProjects(ctx context.Context, reg *registry.File, dryRun bool, rep *GCReport) error {
	states, err := e.Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
	if err != nil {
		rep.DockerSkipped = err.Error()
		return nil
	}
	for _, p := range e.orphans(reg, states) {
		it := GCItem{Action: OrphanedProject, Target: p}
		if !dryRun {
			orphan := compose.Project{Name: p, Dir: e.Cwd, Env: e.Vars}
			if err := e.Docker.DownByName(ctx, orphan, io.Discard, e.Err); err != nil {
				rep.Items = append(rep.Items, it)
				return fail.With(fail.CodeError, fail.Run("Check Docker with: %s", fail.Do(fail.Sandbox, "doctor", "")), err)
			}
			it.Done = true
			it.Volumes, _ = e.Docker.VolumesOf(ctx, p)
		}
		rep.Items = append(rep.Items, it)
	}
	return nil
}

// gcWorktrees removes worktrees named like this tool's that no entry owns, unless they
// hold uncommitted changes (or git cannot tell).
func (e *Env) gcWorktrees(ctx context.Context, reg *registry.File, dryRun bool, rep *GCReport) {
	for _, wt := range e.unregisteredWorktrees(ctx, reg) {
		changes, err := e.Git.Changes(ctx, wt.path, e.Config.EnvFile)
		switch {
		case err != nil:
			rep.Items = append(rep.Items, GCItem{Action: KeptWorktree, Target: wt.path, Error: "could not check it for uncommitted changes: " + err.Error()})
			continue
		case len(changes) > 0:
			rep.Items = append(rep.Items, GCItem{Action: KeptWorktree, Target: wt.path, Changes: changes})
			continue
		}
		it := GCItem{Action: LooseWorktree, Target: wt.path}
		if !dryRun {
			// git refuses when files appeared since the check; that is the safe outcome.
			if err := e.removeWorktree(ctx, wt.repo, wt.path, false); err != nil {
				it.Error = err.Error()
			} else {
				it.Done = true
			}
		}
		rep.Items = append(rep.Items, it)
	}
}

// gcImages removes images the tool's instances left: those compose built for a project
// of this tool that no entry owns, the untagged copies builds leave (of any instance),
// and snapshot helpers of older versions of the tool. An image a container uses is
// refused by docker and reported, never forced.
func (e *Env) gcImages(ctx context.Context, reg *registry.File, dryRun bool, rep *GCReport) {
	built, err := e.Docker.Images(ctx, e.Config.ComposeProjectLabel)
	if err != nil {
		rep.DockerSkipped = err.Error()
		return
	}
	helpers, err := e.Docker.Images(ctx, snapshot.HelperLabel)
	if err != nil {
		rep.DockerSkipped = err.Error()
		return
	}
	var candidates []compose.Image
	for _, img := range built {
		dangling := strings.HasPrefix(img.Ref, "<none>")
		if e.isOurs(img.Value) && (dangling || !registered(reg, img.Value)) {
			candidates = append(candidates, img.Image)
		}
	}
	current := snapshot.HelperImage(platform.Platform{})
	for _, img := range helpers {
		if !strings.HasPrefix(img.Ref, current) {
			candidates = append(candidates, img.Image)
		}
	}
	for _, img := range candidates {
		it := GCItem{Action: LeftImage, Target: img.Ref, Bytes: img.Bytes}
		if !dryRun {
			if err := e.Docker.RemoveImage(ctx, img.ID); err != nil {
				it.Error = err.Error()
			} else {
				it.Done = true
			}
		}
		rep.Items = append(rep.Items, it)
	}
}

// gcVolumes lists the orphaned volumes and removes them when forced or confirmed. A
// volume of a registered instance is never one of them.
func (e *Env) gcVolumes(ctx context.Context, reg *registry.File, o GCOptions, rep *GCReport) error {
	v := e.Docker.Volumes()
	orphans, err := e.Snapshots().orphanVolumes(ctx, v, reg)
	if err != nil {
		rep.DockerSkipped = err.Error()
		return nil
	}
	start := len(rep.Items)
	var total int64
	for _, v := range orphans {
		rep.Items = append(rep.Items, GCItem{Action: OrphanedVolume, Target: v.Name, Path: v.Project, Bytes: v.Bytes})
		total += v.Bytes
	}
	if len(orphans) == 0 || o.DryRun {
		return nil
	}
	if !o.Force {
		if err := e.confirm(fmt.Sprintf("Remove %d orphaned volume(s), %s? Their data is lost.", len(orphans), shared.FormatSize(total))); err != nil {
			return err
		}
	}
	for i := start; i < len(rep.Items); i++ {
		if err := v.Remove(ctx, rep.Items[i].Target); err != nil {
			rep.Items[i].Error = err.Error()
			continue
		}
		rep.Items[i].Done = true
	}
	return nil
}

// stopOnEngine removes the containers (not the volumes, as for any orphaned project),
// its stack and placeholder on a Swarm, and the mirrored checkout of a stale instance on
// a remote engine; an engine that does not answer is an error, so its entry is kept.
func (e *Env) stopOnEngine(ctx context.Context, eng engine.Engine, in *registry.Instance, dryRun bool) error {
	return e.on(ctx, eng, false, func(r *Env) error {
		if dryRun {
			return nil // the engine answers: that is all a dry run needs to know
		}
		// on a Swarm its services would start the containers again, and its placeholder
		// would keep its room: both go with the entry (the volumes stay, as any orphan's)
		if err := e.unstack(ctx, eng, in.InstanceID, true); err != nil {
			return err
		}
		if err := r.Docker.DownByName(ctx, compose.Project{Name: in.InstanceID, Dir: e.Cwd, Env: r.Vars}, io.Discard, e.Err); err != nil {
			return err
		}
		return r.tunnel.RemoveMirror(ctx, in.Path)
	})
}
