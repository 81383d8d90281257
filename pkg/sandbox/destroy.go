package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/instance"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// DestroyOptions are the flags of destroy.
type DestroyOptions struct {
	Force          bool
	KeepWorktree   bool
	DiscardChanges bool
}

// Destroy removes the sandbox at the current directory: containers and volumes, then
// the worktree (only one this tool created and recorded), then the registry entry. It
// refuses rather than guesses: an unregistered directory, the local-prod clone, or a
// worktree holding uncommitted work (unless DiscardChanges) is never removed. Branches
// are never deleted.
func (s Sandboxes) Destroy(ctx context.Context, o DestroyOptions) error {
	h := s.Host
	reg, err := h.LoadRegistry()
	if err != nil {
		return err
	}
	if reg.IsLocalProdPath(h.Cwd) {
		return fail.New(fail.CodeError, "To remove local-prod use: go tool mage localProd:destroy (it keeps the clone)",
			"%s is the local-prod clone; sandbox:destroy never touches it", h.Cwd)
	}
	entry := reg.ByPath(h.Cwd)
	in, err := instance.Load(h.Config, h.Cwd)
	if err != nil && entry != nil && errors.Is(err, instance.ErrNotInstance) {
		// A create killed before it wrote the env file: the registry still knows the
		// instance, which is enough to finish taking it apart.
		in = &instance.Instance{ID: entry.InstanceID, Slot: entry.Slot, Dir: h.Cwd,
			Vars: instance.EnvVars(h.Config, h.Home, entry.InstanceID, entry.Slot, h.Now())}
		err = nil
	}
	if err != nil {
		return err
	}
	if in.ID == h.Config.LocalProd.InstanceID || in.Slot == h.Config.LocalProd.Slot {
		return fail.New(fail.CodeError, "To remove local-prod use: go tool mage localProd:destroy",
			"%s is a local-prod instance (slot %d); sandbox:destroy refuses it", in.ID, in.Slot)
	}
	if entry == nil {
		return fail.New(fail.CodeError,
			"Nothing was deleted. Stop its containers with sandbox:down -volumes, then remove the directory yourself if you mean to",
			"%s (%s) is not registered in %s, so destroy will not delete it", h.Cwd, in.ID, h.Registry().Path)
	}
	if entry.InstanceID != in.ID {
		return fail.New(fail.CodeError, "Fix INSTANCE_ID in "+h.Config.EnvFile+" or run sandbox:gc",
			"%s says it is %s but the registry records %s there", h.Config.EnvFile, in.ID, entry.InstanceID)
	}
	removeTree := entry.IsWorktree && !o.KeepWorktree && s.createdHere(entry)
	if removeTree && !o.DiscardChanges {
		changes, err := s.Git.Changes(ctx, in.Dir, h.Config.EnvFile)
		if err != nil {
			return fail.With(fail.CodeError, "Nothing was deleted", err)
		}
		if len(changes) > 0 {
			return fail.New(fail.CodeError,
				"Commit or stash them, or pass -discardChanges to lose them (or -keepWorktree to keep the directory)",
				"worktree has %d uncommitted change(s): %s", len(changes), preview(changes))
		}
	}
	what := "containers, volumes and registry entry"
	if removeTree {
		what = "containers, volumes, the worktree (its branch is kept) and registry entry"
	}
	if !o.Force {
		ok, err := h.Confirm(fmt.Sprintf("Destroy sandbox %s at %s? This removes its %s.", in.ID, in.Dir, what))
		if err != nil {
			return err
		}
		if !ok {
			return fail.New(fail.CodeError, "", "aborted; nothing was changed")
		}
	}
	h.Printf("Destroying sandbox: %s\n", in.ID)
	if err := h.CheckDocker(ctx); err != nil {
		fmt.Fprintf(h.Err, "⚠ Could not stop containers: %v (sandbox:gc can remove them later)\n", err)
	} else if err := h.Project(in, h.Config.Sandbox, nil).Down(ctx, true, io.Discard, h.Err); err != nil {
		return fail.With(fail.CodeError, "Nothing else was changed; fix Docker and retry", err)
	} else {
		h.Printf("✓ Containers stopped and volumes removed\n")
	}
	h.Step("destroy:down")
	envPath := filepath.Join(in.Dir, h.Config.EnvFile)
	if removeTree {
		if err := s.removeWorktree(ctx, *entry.ParentRepo, in.Dir, o.DiscardChanges); err != nil {
			return fail.With(fail.CodeError, "The registry entry was kept; resolve git's complaint and retry", err)
		}
		h.Printf("✓ Worktree removed (branch kept)\n")
		h.Step("destroy:worktree")
	} else {
		if err := os.Remove(envPath); err != nil && !os.IsNotExist(err) {
			return fail.With(fail.CodeError, "", fmt.Errorf("remove %s: %w", envPath, err))
		}
		h.Printf("✓ %s removed; directory kept at %s\n", h.Config.EnvFile, in.Dir)
	}
	if err := h.UpdateRegistry(ctx, func(f *registry.File) error {
		delete(f.Instances, entry.InstanceID)
		return nil
	}); err != nil {
		return fail.With(fail.CodeError, "The worktree is gone; run sandbox:gc to drop the stale entry", err)
	}
	h.Printf("✓ Registry updated\n")
	h.Printf("Sandbox %s destroyed\n", in.ID)
	if removeTree {
		h.Printf("Note: run 'cd %s' to leave the deleted directory\n", *entry.ParentRepo)
	}
	return nil
}

// createdHere double-checks a registry claim before anything is deleted: the entry says
// it is a worktree we created, its parent repository exists, and git agrees the path is
// one of that repository's worktrees.
func (s Sandboxes) createdHere(entry *registry.Instance) bool {
	if entry.ParentRepo == nil || gitx.KindOf(entry.Path) != gitx.Worktree {
		return false
	}
	list, err := s.Git.WorktreeList(context.Background(), *entry.ParentRepo)
	if err != nil {
		return false
	}
	for i, wt := range list {
		if i > 0 && registry.SamePath(wt.Path, entry.Path) {
			return true
		}
	}
	return false
}

func preview(paths []string) string {
	if len(paths) > 3 {
		return strings.Join(paths[:3], ", ") + fmt.Sprintf(" and %d more", len(paths)-3)
	}
	return strings.Join(paths, ", ")
}

// removeWorktree removes a worktree through git, which refuses one with modified or
// untracked files unless force. The tool's own env file would count as untracked, so it
// goes first and is put back if git refuses.
func (s Sandboxes) removeWorktree(ctx context.Context, repo, path string, force bool) error {
	envPath := filepath.Join(path, s.Host.Config.EnvFile)
	envData, readErr := os.ReadFile(envPath)
	_ = os.Remove(envPath)
	if err := s.Git.WorktreeRemove(ctx, repo, path, force); err != nil {
		if readErr == nil {
			_ = os.WriteFile(envPath, envData, 0o644)
		}
		return err
	}
	return nil
}
