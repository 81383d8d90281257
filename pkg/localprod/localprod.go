// Package localprod is the local-prod lifecycle: the one production-like instance, a full
// clone on slot 0 with secrets from 1Password. Every target resolves local-prod from the
// registry, never from the current directory (the original tool lost a user's work by
// destroying whatever directory it was run in), and runs through pkg/instance.
package localprod

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/instance"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// LocalProd is the local-prod lifecycle on one host.
type LocalProd struct {
	Host *instance.Host
	Git  gitx.Git
}

// Init registers the clone at the current directory as local-prod.
func (l LocalProd) Init(ctx context.Context) error {
	h, cfg := l.Host, l.Host.Config
	lc := cfg.LocalProd
	dir := h.Cwd
	switch gitx.KindOf(dir) {
	case gitx.Worktree:
		return fail.New(fail.CodeError, "Clone the repository for it: git clone <url> ~/ktrdr-prod && cd ~/ktrdr-prod && go tool mage localProd:init",
			"%s is a git worktree; local-prod must be a full clone (a worktree disappears with its parent repository)", dir)
	case gitx.NotGit:
		return fail.New(fail.CodeError, "Run it at the top of a clone of the repository",
			"%s is not the top of a git clone", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, cfg.ComposeFile)); err != nil {
		return fail.New(fail.CodeError, "Run it in a clone of the project whose stack local-prod runs",
			"%s has no %s", dir, cfg.ComposeFile)
	}
	envPath := filepath.Join(dir, cfg.EnvFile)
	if _, err := os.Stat(envPath); err == nil {
		return fail.New(fail.CodeError, "See it with: go tool mage localProd:status",
			"already initialized: %s exists", envPath)
	}
	now := h.Now()
	err := h.UpdateRegistry(ctx, func(f *registry.File) error {
		if f.LocalProd != nil {
			return fail.New(fail.CodeError, "Only one local-prod is allowed; remove it first with: go tool mage localProd:destroy",
				"local-prod already exists at %s", f.LocalProd.Path)
		}
		if other := f.ByPath(dir); other != nil {
			return fail.New(fail.CodeError, "Use a separate clone for local-prod",
				"%s is registered as sandbox %s", dir, other.InstanceID)
		}
		f.LocalProd = &registry.Instance{InstanceID: lc.InstanceID, Slot: lc.Slot, Path: dir,
			CreatedAt: instance.Timestamp(now), IsWorktree: false, ParentRepo: nil}
		return nil
	})
	if err != nil {
		return err
	}
	if err := envfile.Write(envPath, instance.EnvVars(cfg, h.Home, lc.InstanceID, lc.Slot, now)); err != nil {
		_ = h.UpdateRegistry(context.WithoutCancel(ctx), func(f *registry.File) error { f.LocalProd = nil; return nil })
		return fail.With(fail.CodeError, "Nothing was kept; check the disk and permissions", err)
	}
	in, err := instance.Load(cfg, dir)
	if err != nil {
		return err
	}
	h.Printf("Local-prod initialized: %s\n", lc.InstanceID)
	h.Printf("  Location:  %s\n", dir)
	h.Printf("  Port slot: %d (standard ports)\n", lc.Slot)
	h.PrintHeadline(in)
	h.Printf("Next: go tool mage localProd:up\n")
	return nil
}

// resolve finds local-prod through the registry, from any directory.
func (l LocalProd) resolve() (*instance.Instance, *registry.Instance, error) {
	h := l.Host
	reg, err := h.LoadRegistry()
	if err != nil {
		return nil, nil, err
	}
	if reg.LocalProd == nil {
		return nil, nil, fail.New(fail.CodeError, "In a clone of the repository run: go tool mage localProd:init",
			"no local-prod instance is registered")
	}
	entry := reg.LocalProd
	if _, err := os.Stat(entry.Path); err != nil {
		return nil, entry, fail.New(fail.CodeError, "Clear the stale entry with: go tool mage localProd:destroy -force",
			"registered local-prod directory %s is gone", entry.Path)
	}
	in, err := instance.Load(h.Config, entry.Path)
	if err != nil {
		return nil, entry, err
	}
	if in.ID != entry.InstanceID {
		return nil, entry, fail.New(fail.CodeError, "Fix INSTANCE_ID in "+h.Config.EnvFile+", or destroy and init local-prod again",
			"%s at %s names %s, but the registry records local-prod as %s", h.Config.EnvFile, entry.Path, in.ID, entry.InstanceID)
	}
	return in, entry, nil
}

func (l LocalProd) noteCwd(entry *registry.Instance) {
	if !registry.SamePath(l.Host.Cwd, entry.Path) {
		l.Host.Printf("Note: local-prod is at %s (current directory is %s)\n", entry.Path, l.Host.Cwd)
	}
}

// Up starts local-prod.
func (l LocalProd) Up(ctx context.Context, o instance.StartOptions) error {
	in, entry, err := l.resolve()
	if err != nil {
		return err
	}
	l.noteCwd(entry)
	return l.Host.Start(ctx, in, l.Host.Config.LocalProd, o)
}

// Down stops local-prod.
func (l LocalProd) Down(ctx context.Context, volumes bool) error {
	in, entry, err := l.resolve()
	if err != nil {
		return err
	}
	l.noteCwd(entry)
	return l.Host.Stop(ctx, in, l.Host.Config.LocalProd, volumes)
}

// Status reports on local-prod.
func (l LocalProd) Status(ctx context.Context, asJSON bool) error {
	in, _, err := l.resolve()
	if err != nil {
		return err
	}
	return instance.PrintStatus(l.Host.Out, l.Host.Status(ctx, in, l.Host.Config.LocalProd), asJSON)
}

// Logs shows local-prod's logs.
func (l LocalProd) Logs(ctx context.Context, service string, follow bool, tail int) error {
	in, _, err := l.resolve()
	if err != nil {
		return err
	}
	return l.Host.Logs(ctx, in, l.Host.Config.LocalProd, service, follow, tail)
}

// Destroy removes local-prod's containers and volumes, its .env.sandbox and its registry
// entry. The clone itself is never deleted.
func (l LocalProd) Destroy(ctx context.Context, force bool) error {
	h := l.Host
	lc := h.Config.LocalProd
	reg, err := h.LoadRegistry()
	if err != nil {
		return err
	}
	if reg.LocalProd == nil {
		return fail.New(fail.CodeError, "Nothing to destroy", "no local-prod instance exists")
	}
	entry := reg.LocalProd
	l.noteCwd(entry)
	if !force {
		ok, err := h.Confirm(fmt.Sprintf("Destroy local-prod at %s? Containers and volumes will be removed; the clone is kept.", entry.Path))
		if err != nil {
			return err
		}
		if !ok {
			return fail.New(fail.CodeError, "", "aborted; nothing was changed")
		}
	}
	h.Printf("Destroying local-prod: %s\n", entry.InstanceID)
	envPath := filepath.Join(entry.Path, h.Config.EnvFile)
	if in, err := instance.Load(h.Config, entry.Path); err == nil && in.ID == entry.InstanceID {
		if err := h.CheckDocker(ctx); err != nil {
			fmt.Fprintf(h.Err, "⚠ Could not stop containers: %v (sandbox:gc can remove them later)\n", err)
		} else if err := h.Project(in, lc, nil).Down(ctx, true, io.Discard, h.Err); err != nil {
			return fail.With(fail.CodeError, "Nothing else was changed; fix Docker and retry", err)
		} else {
			h.Printf("✓ Containers stopped and volumes removed\n")
		}
		if err := os.Remove(envPath); err != nil {
			return fail.With(fail.CodeError, "", fmt.Errorf("remove %s: %w", envPath, err))
		}
		h.Printf("✓ %s removed\n", envPath)
	} else {
		fmt.Fprintf(h.Err, "⚠ %s not found or not local-prod's; containers not stopped (sandbox:gc finds leftovers)\n", envPath)
	}
	if err := h.UpdateRegistry(ctx, func(f *registry.File) error {
		f.LocalProd = nil
		return nil
	}); err != nil {
		return err
	}
	h.Printf("✓ Registry cleared\n")
	h.Printf("Local-prod destroyed\n")
	h.Printf("Clone directory preserved at: %s\n", entry.Path)
	return nil
}
