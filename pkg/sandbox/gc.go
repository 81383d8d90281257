package sandbox

import (
	"context"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// repos are the repositories whose worktrees gc and doctor look at: every registered
// sandbox's parent and the repository of the current directory.
func (s Sandboxes) repos(ctx context.Context, reg *registry.File) []string {
	set := map[string]bool{}
	for _, in := range reg.Instances {
		if in.ParentRepo != nil && exists(*in.ParentRepo) {
			set[*in.ParentRepo] = true
		}
	}
	if top, err := s.Git.TopLevel(ctx, s.Host.Cwd); err == nil {
		if repo, err := s.Git.MainRepo(ctx, top); err == nil {
			set[repo] = true
		}
	}
	var out []string
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

type worktreeRef struct{ repo, path string }

func (s Sandboxes) unregisteredWorktreeRefs(ctx context.Context, reg *registry.File) []worktreeRef {
	var out []worktreeRef
	for _, repo := range s.repos(ctx, reg) {
		list, err := s.Git.WorktreeList(ctx, repo)
		if err != nil {
			continue
		}
		for i, wt := range list {
			if i == 0 || !strings.HasPrefix(filepath.Base(wt.Path), s.Host.Config.IDPrefix) {
				continue
			}
			if reg.ByPath(wt.Path) == nil && !reg.IsLocalProdPath(wt.Path) {
				out = append(out, worktreeRef{repo: repo, path: wt.Path})
			}
		}
	}
	return out
}

func (s Sandboxes) unregisteredWorktrees(ctx context.Context, reg *registry.File) []string {
	var out []string
	for _, r := range s.unregisteredWorktreeRefs(ctx, reg) {
		out = append(out, r.path)
	}
	return out
}

// GC removes what a crash or a hand-deleted directory left behind, and only what cannot
// hold user work: registry entries whose directory is gone, the containers of compose
// projects of this tool that no entry owns (their volumes are listed, not removed), and
// unregistered sandbox worktrees with no uncommitted changes (their branches are kept).
func (s Sandboxes) GC(ctx context.Context, dryRun bool) error {
	h := s.Host
	reg, err := h.LoadRegistry()
	if err != nil {
		return err
	}
	verb := map[bool]string{true: "would remove", false: "removing"}[dryRun]
	actions := 0

	var stale []string
	for _, in := range reg.Sorted() {
		if !exists(in.Path) {
			stale = append(stale, in.InstanceID)
		}
	}
	for _, id := range stale {
		actions++
		h.Printf("%s stale registry entry %s (directory %s is gone)\n", verb, id, reg.Instances[id].Path)
	}
	if !dryRun && len(stale) > 0 {
		err := h.UpdateRegistry(ctx, func(f *registry.File) error {
			for _, id := range stale {
				if in, ok := f.Instances[id]; ok && !exists(in.Path) {
					delete(f.Instances, id)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, repo := range s.repos(ctx, reg) {
			_ = s.Git.WorktreePrune(ctx, repo)
		}
	}
	if reg.LocalProd != nil && !exists(reg.LocalProd.Path) {
		h.Printf("note: local-prod's directory %s is gone; clear it with: go tool mage localProd:destroy -force\n", reg.LocalProd.Path)
	}

	engine := compose.Engine{Env: h.Env}
	if states, err := engine.ProjectStates(ctx, h.Config.ComposeProjectLabel); err != nil {
		h.Printf("note: skipped compose projects: %v\n", err)
	} else {
		for _, p := range compose.Projects(states) {
			if !s.isOurs(p) || registered(reg, p) {
				continue
			}
			actions++
			h.Printf("%s containers of orphaned compose project %s\n", verb, p)
			if dryRun {
				continue
			}
			orphan := compose.Project{Name: p, Dir: h.Cwd, Env: h.Env}
			if err := orphan.DownByName(ctx, io.Discard, h.Err); err != nil {
				return fail.With(fail.CodeError, "Check Docker with: go tool mage sandbox:doctor", err)
			}
			if vols, err := engine.VolumesOf(ctx, p); err == nil && len(vols) > 0 {
				h.Printf("  kept its volumes (they may hold data): %s\n  remove them with: docker volume rm %s\n", strings.Join(vols, " "), strings.Join(vols, " "))
			}
		}
	}

	for _, wt := range s.unregisteredWorktreeRefs(ctx, reg) {
		changes, err := s.Git.Changes(ctx, wt.path, h.Config.EnvFile)
		if err != nil || len(changes) > 0 {
			h.Printf("keeping unregistered worktree %s: it has uncommitted changes (%s)\n", wt.path, preview(changes))
			continue
		}
		actions++
		h.Printf("%s unregistered worktree %s (its branch is kept)\n", verb, wt.path)
		if dryRun {
			continue
		}
		if err := s.removeWorktree(ctx, wt.repo, wt.path, false); err != nil {
			// git refuses when files appeared since the check; that is the safe outcome.
			h.Printf("  kept: %v\n", err)
		}
	}
	if actions == 0 {
		h.Printf("Nothing to clean up.\n")
	} else if dryRun {
		h.Printf("Dry run: nothing was changed. Run without -dryRun to do it.\n")
	}
	return nil
}
