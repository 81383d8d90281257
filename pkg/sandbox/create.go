// Package sandbox is the sandbox lifecycle: create (a worktree beside the repository on
// its own slot), init (adopt an existing checkout), list, destroy, and the repairs of
// doctor and gc. Starting, stopping and reporting go through pkg/instance.
package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/instance"
	"github.com/ktrdr/sandbox/pkg/ports"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// maxSlugLen keeps ids within what compose, Docker and DNS accept as one label.
const maxSlugLen = 48

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify lowercases name and turns every run of other characters into one dash.
func Slugify(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// InstanceID turns a user's name into a safe instance id, or says why it cannot.
func (s Sandboxes) InstanceID(name string) (string, error) {
	hint := "Use letters, digits and dashes, e.g. feat-x"
	if strings.TrimSpace(name) == "" {
		return "", fail.New(fail.CodeError, hint, "sandbox name is empty")
	}
	if strings.HasPrefix(name, "-") {
		return "", fail.New(fail.CodeError, "Flags go after the name: sandbox:create <name> -slot=N", "sandbox name %q starts with a dash", name)
	}
	if strings.ContainsAny(name, `/\`) {
		return "", fail.New(fail.CodeError, hint+"; the sandbox directory is always created beside the repository",
			"sandbox name %q contains a path separator; give a name, not a path", name)
	}
	slug := Slugify(strings.TrimPrefix(name, s.Host.Config.IDPrefix))
	if slug == "" {
		return "", fail.New(fail.CodeError, hint, "sandbox name %q has no letters or digits", name)
	}
	if len(slug) > maxSlugLen {
		return "", fail.New(fail.CodeError, hint, "sandbox name is %d characters once made safe; at most %d are allowed", len(slug), maxSlugLen)
	}
	return s.Host.Config.IDPrefix + slug, nil
}

// Sandboxes is the sandbox lifecycle on one host.
type Sandboxes struct {
	Host *instance.Host
	Git  gitx.Git
}

// CreateOptions are the flags of create.
type CreateOptions struct {
	Branch string
	Slot   *int // nil: the lowest free slot
}

// Create adds a worktree beside the repository containing the current directory,
// reserves a slot, writes .env.sandbox and registers it. The registry entry is written
// first, under the lock, so two creates can never take one slot; if anything after it
// fails, the entry and the worktree are rolled back.
func (s Sandboxes) Create(ctx context.Context, name string, o CreateOptions) error {
	h := s.Host
	id, err := s.InstanceID(name)
	if err != nil {
		return err
	}
	if o.Branch != "" {
		if err := s.checkBranchName(ctx, o.Branch); err != nil {
			return err
		}
	}
	top, err := s.Git.TopLevel(ctx, h.Cwd)
	if err != nil {
		return fail.With(fail.CodeError, "Run it inside the repository whose stack you want to sandbox", err)
	}
	repo, err := s.Git.MainRepo(ctx, top)
	if err != nil {
		return fail.With(fail.CodeError, "Run it inside a clone with a working tree", err)
	}
	path := filepath.Join(filepath.Dir(repo), id)
	if _, err := os.Lstat(path); err == nil {
		return fail.New(fail.CodeError, "Pick another name, or move that directory away", "directory already exists: %s", path)
	}
	now := h.Now()
	parent := repo
	entry := &registry.Instance{InstanceID: id, Path: path, CreatedAt: instance.Timestamp(now), IsWorktree: true, ParentRepo: &parent}
	if err := s.reserve(ctx, entry, o.Slot, fail.New(fail.CodeError, "Pick another name, or destroy the existing one first",
		"instance %s is already registered", id)); err != nil {
		return err
	}
	h.Step("create:reserved")
	h.Printf("Creating worktree at %s...\n", path)
	if err := s.Git.WorktreeAdd(ctx, repo, path, o.Branch); err != nil {
		s.rollback(ctx, id, "")
		return fail.With(fail.CodeError, "Nothing was created; see git's message", err)
	}
	h.Step("create:worktree")
	if err := envfile.Write(filepath.Join(path, h.Config.EnvFile), instance.EnvVars(h.Config, h.Home, id, entry.Slot, now)); err != nil {
		s.rollback(ctx, id, repo)
		return fail.With(fail.CodeError, "Nothing was kept; check the disk and permissions", err)
	}
	in, err := instance.Load(h.Config, path)
	if err != nil {
		return err
	}
	h.Printf("Created instance: %s\n", id)
	h.Printf("  Location:  %s\n", path)
	h.Printf("  Port slot: %d\n", entry.Slot)
	h.PrintHeadline(in)
	h.Printf("Next: cd %s && go tool mage sandbox:up\n", path)
	return nil
}

func (s Sandboxes) checkBranchName(ctx context.Context, branch string) error {
	if strings.HasPrefix(branch, "-") {
		return fail.New(fail.CodeError, "Branch names cannot start with a dash", "invalid branch name %q", branch)
	}
	if _, err := s.Git.CheckRefFormat(ctx, branch); err != nil {
		return fail.New(fail.CodeError, "See: git help check-ref-format", "invalid branch name %q", branch)
	}
	return nil
}

// reserve registers entry on a free slot (want, or the lowest free) after checking the
// slot's ports, all under the registry lock; idTaken is the refusal when the id is.
func (s Sandboxes) reserve(ctx context.Context, entry *registry.Instance, want *int, idTaken error) error {
	cfg := s.Host.Config
	return s.Host.UpdateRegistry(ctx, func(f *registry.File) error {
		if _, taken := f.Instances[entry.InstanceID]; taken {
			return idTaken
		}
		if cfg.LocalProd.InstanceID != "" && entry.InstanceID == cfg.LocalProd.InstanceID {
			return fail.New(fail.CodeError, "Pick another name", "%s is the local-prod id", entry.InstanceID)
		}
		slot, err := s.pickSlot(f, want)
		if err != nil {
			return err
		}
		if busy := ports.Busy(cfg.PortsFor(slot), nil); len(busy) > 0 {
			return fail.With(fail.CodePorts, "Stop what holds them (see: go tool mage sandbox:doctor), or choose another slot with -slot=N",
				&ports.ConflictError{Slot: slot, Busy: busy})
		}
		entry.Slot = slot
		f.Instances[entry.InstanceID] = entry
		return nil
	})
}

func (s Sandboxes) pickSlot(f *registry.File, wantSlot *int) (int, error) {
	cfg := s.Host.Config
	holders := f.SlotHolders()
	if wantSlot != nil {
		want := *wantSlot
		if !cfg.IsSandboxSlot(want) {
			hint := fmt.Sprintf("Sandbox slots are %d-%d", cfg.FirstSandboxSlot, cfg.LastSandboxSlot)
			if want == cfg.LocalProd.Slot {
				hint += fmt.Sprintf("; slot %d is reserved for local-prod", want)
			}
			return 0, fail.New(fail.CodeError, hint, "slot %d is out of range", want)
		}
		if ids := holders[want]; len(ids) > 0 {
			return 0, fail.New(fail.CodeError, "Omit -slot to take the lowest free one, or see: go tool mage sandbox:list",
				"slot %d already in use by %s", want, strings.Join(ids, ", "))
		}
		return want, nil
	}
	for slot := cfg.FirstSandboxSlot; slot <= cfg.LastSandboxSlot; slot++ {
		if len(holders[slot]) == 0 {
			return slot, nil
		}
	}
	var taken []string
	for slot := cfg.FirstSandboxSlot; slot <= cfg.LastSandboxSlot; slot++ {
		taken = append(taken, fmt.Sprintf("%d: %s", slot, strings.Join(holders[slot], "+")))
	}
	return 0, fail.New(fail.CodeError, "Destroy unused instances with: go tool mage sandbox:destroy (stale ones: sandbox:gc)",
		"all %d sandbox slots are in use (%s)", cfg.LastSandboxSlot-cfg.FirstSandboxSlot+1, strings.Join(taken, ", "))
}

// rollback undoes a create that failed after reserving: the worktree (when repo is
// given; it is brand new, so it holds no user work) and then the registry entry.
func (s Sandboxes) rollback(ctx context.Context, id, repo string) {
	ctx = context.WithoutCancel(ctx)
	if repo != "" {
		path := filepath.Join(filepath.Dir(repo), id)
		if err := s.Git.WorktreeRemove(ctx, repo, path, true); err != nil {
			fmt.Fprintf(s.Host.Err, "Warning: could not remove the new worktree %s: %v\n", path, err)
			return // keep the entry so list and gc still see it
		}
	}
	if err := s.Host.UpdateRegistry(ctx, func(f *registry.File) error {
		delete(f.Instances, id)
		return nil
	}); err != nil {
		fmt.Fprintf(s.Host.Err, "Warning: could not remove registry entry %s: %v (run: go tool mage sandbox:gc)\n", id, err)
	}
}

// Init adopts the checkout at the current directory as a sandbox, without a new worktree.
func (s Sandboxes) Init(ctx context.Context, name string, slot *int) error {
	h := s.Host
	dir, err := s.Git.TopLevel(ctx, h.Cwd)
	if err != nil {
		return fail.With(fail.CodeError, "Run it at the top of a clone or worktree of the repository", err)
	}
	if !registry.SamePath(dir, h.Cwd) {
		return fail.New(fail.CodeError, "cd "+dir+" and run it again", "run init at the top of the checkout, not in a subdirectory")
	}
	envPath := filepath.Join(dir, h.Config.EnvFile)
	if _, err := os.Stat(envPath); err == nil {
		return fail.New(fail.CodeError, "See it with: go tool mage sandbox:status", "already initialized: %s exists", envPath)
	}
	if name == "" {
		name = filepath.Base(dir)
	}
	id, err := s.InstanceID(name)
	if err != nil {
		return err
	}
	reg, err := h.LoadRegistry()
	if err != nil {
		return err
	}
	if reg.IsLocalProdPath(dir) {
		return fail.New(fail.CodeError, "A directory is either local-prod or a sandbox", "%s is the registered local-prod clone", dir)
	}
	if other := reg.ByPath(dir); other != nil {
		return fail.New(fail.CodeError, "Its .env.sandbox is gone; destroy the entry with sandbox:gc, then init again",
			"%s is already registered as %s", dir, other.InstanceID)
	}
	entry := &registry.Instance{InstanceID: id, Path: dir, CreatedAt: instance.Timestamp(h.Now())}
	if gitx.KindOf(dir) == gitx.Worktree {
		entry.IsWorktree = false // adopted, not created by us: destroy must never remove it
		if repo, err := s.Git.MainRepo(ctx, dir); err == nil {
			entry.ParentRepo = &repo
		}
	}
	if err := s.reserve(ctx, entry, slot, fail.New(fail.CodeError, "Pass -name=ID to choose another id",
		"instance id %s already exists", id)); err != nil {
		return err
	}
	if err := envfile.Write(envPath, instance.EnvVars(h.Config, h.Home, id, entry.Slot, h.Now())); err != nil {
		s.rollback(ctx, id, "")
		return fail.With(fail.CodeError, "Nothing was kept; check the disk and permissions", err)
	}
	h.Printf("Initialized sandbox: %s\n", id)
	h.Printf("  Location:  %s\n", dir)
	h.Printf("  Port slot: %d\n", entry.Slot)
	h.Printf("Next: go tool mage sandbox:up\n")
	return nil
}
