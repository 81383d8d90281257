package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/hooks"
	"github.com/ktrdr/sandbox/pkg/include"
	"github.com/ktrdr/sandbox/pkg/ports"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// InitResult is a newly registered instance: by create (a new worktree) or init.
type InitResult struct {
	Kind     config.Kind
	Instance *Instance
	// NewWorktree is true when create added the worktree (false when init adopted a
	// checkout).
	NewWorktree bool
	Headline    []Endpoint
	// Included is what the include file brought into the new worktree (nil: nothing).
	Included *include.Result
}

// CreateOptions are the flags of create.
type CreateOptions struct {
	Branch    string
	Slot      *int   // nil: the lowest free slot
	NoInclude bool   // do not copy what .worktreeinclude names
	NoHooks   bool   // do not run the post-create hooks
	Seed      string // "instance" or "instance:snapshot": the volumes start with that data
	// Engine is where its containers will run (zero: this machine); see ResolveEngine.
	Engine engine.Engine
}

// Create adds a worktree beside the repository containing the current directory on a
// free slot, writes its env file and registers it. The registry entry is written first,
// under the lock, so two creates can never take one slot; if anything after it fails or
// the caller cancels, the worktree, a branch it made, and the entry are rolled back.
func (e *Env) Create(ctx context.Context, name string, o CreateOptions) (InitResult, error) {
	id, err := e.InstanceID(name)
	if err != nil {
		return InitResult{}, err
	}
	if err := e.checkCreateOptions(ctx, o); err != nil {
		return InitResult{}, err
	}
	_, repo, err := e.Git.Locate(ctx, e.Cwd)
	if err != nil {
		return InitResult{}, e.gitFailed(ctx, fail.Say("Run it inside the repository whose stack you want to sandbox"), err)
	}
	path := filepath.Join(filepath.Dir(repo), id)
	if _, err := os.Lstat(path); err == nil {
		return InitResult{}, fail.New(fail.CodeError, fail.Say("Pick another name, or move that directory away"), "directory already exists: %s", path)
	}
	branch := o.Branch
	if branch == "" {
		branch = filepath.Base(path) // git's default: a branch named after the directory
	}
	hadBranch, err := e.Git.BranchExists(ctx, repo, branch)
	if err != nil {
		return InitResult{}, e.gitFailed(ctx, fail.Say("Nothing was created; see git's message"), err)
	}
	parent := repo
	entry := &registry.Instance{InstanceID: id, Path: path, IsWorktree: true, ParentRepo: &parent}
	undo := func() {
		e.undoWorktree(ctx, repo, path, branch, hadBranch)
		if o.Seed != "" {
			e.Snapshots().removeVolumes(ctx, id)
		}
		if o.Engine.Swarm != nil { // a seed placed it: release its room
			_ = e.unstack(context.WithoutCancel(ctx), o.Engine, id, true)
		}
	}
	var included *include.Result
	in, err := e.register(ctx, config.KindSandbox, entry, o.Slot, o.Engine, func() error {
		e.say("Creating worktree at %s...", path)
		if err := e.Git.AddWorktree(ctx, repo, path, branch, hadBranch); err != nil {
			return e.gitFailed(ctx, fail.Say("Nothing was created; see git's message"), err)
		}
		e.step("create:worktree")
		if !o.NoInclude {
			var err error
			if included, err = e.includeFiles(ctx, repo, path); err != nil {
				return err
			}
		}
		if o.Seed != "" {
			return e.Snapshots().seed(ctx, id, o.Seed)
		}
		return nil
	}, undo)
	if err != nil {
		return InitResult{}, err
	}
	res := InitResult{Kind: config.KindSandbox, Instance: in, NewWorktree: true, Headline: in.Headline(e.Config), Included: included}
	return res, e.runHooks(ctx, config.KindSandbox, hooks.PostCreate, in, o.NoHooks)
}

// gitFailed tells an interruption from git's own refusal.
func (e *Env) gitFailed(ctx context.Context, fix fail.Remedy, err error) error {
	var ee *execx.ExitError
	if ctx.Err() == nil && errors.As(err, &ee) && ee.Code < 0 {
		// git was killed by a signal: a terminal's Ctrl-C reaches git (same process
		// group) a moment before it cancels this command's context. Give it that moment.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if ctx.Err() != nil {
		return interrupted(ctx)
	}
	return fail.With(fail.CodeError, fix, err)
}

// undoWorktree removes a worktree a failed create added (it is brand new, so it holds no
// user work) and the branch it made, if it made one.
func (e *Env) undoWorktree(ctx context.Context, repo, path, branch string, hadBranch bool) {
	ctx = context.WithoutCancel(ctx)
	if exists(path) {
		if err := e.Git.WorktreeRemove(ctx, repo, path, true); err != nil {
			e.warn("could not remove the new worktree %s: %v", path, err)
		}
	}
	_ = e.Git.WorktreePrune(ctx, repo)
	if !hadBranch {
		if made, _ := e.Git.BranchExists(ctx, repo, branch); made {
			if err := e.Git.DeleteBranch(ctx, repo, branch); err != nil {
				e.warn("could not remove the new branch %s: %v", branch, err)
			}
		}
	}
}

func (e *Env) checkBranchName(ctx context.Context, branch string) error {
	if strings.HasPrefix(branch, "-") {
		return fail.New(fail.CodeError, fail.Say("Branch names cannot start with a dash"), "invalid branch name %q", branch)
	}
	if _, err := e.Git.CheckRefFormat(ctx, branch); err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx)
		}
		return fail.New(fail.CodeError, fail.Say("See: git help check-ref-format"), "invalid branch name %q", branch)
	}
	return nil
}

// InitOptions are the flags of init.
type InitOptions struct {
	Name string // sandboxes: the id to take (default: the directory's name)
	Slot *int   // sandboxes: the slot to take (default: the lowest free)
	// Engine is where its containers will run (zero: this machine); see ResolveEngine.
	Engine engine.Engine
}

// Init registers the checkout at the current directory as an instance of kind, without a
// new worktree: a sandbox adopts a clone or worktree (destroy will never delete it);
// local-prod takes a full clone on its fixed slot.
func (e *Env) Init(ctx context.Context, kind config.Kind, o InitOptions) (InitResult, error) {
	cfg := e.Config
	lc := cfg.Lifecycle(kind)
	dir := e.Cwd
	entry := &registry.Instance{Path: dir}
	switch kind {
	case config.KindLocalProd:
		switch gitx.KindOf(dir) {
		case gitx.Worktree:
			return InitResult{}, fail.New(fail.CodeError, fail.Run("Clone the repository for it: git clone <url> "+cfg.LocalProdClone+" && cd "+cfg.LocalProdClone+" && %s", fail.Do(fail.LocalProd, "init", "")),
				"%s is a git worktree; local-prod must be a full clone (a worktree disappears with its parent repository)", dir)
		case gitx.NotGit:
			return InitResult{}, fail.New(fail.CodeError, fail.Say("Run it at the top of a clone of the repository"), "%s is not the top of a git clone", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, cfg.ComposeFile)); err != nil {
			return InitResult{}, fail.New(fail.CodeError, fail.Say("Run it in a clone of the project whose stack local-prod runs"), "%s has no %s", dir, cfg.ComposeFile)
		}
		entry.InstanceID, entry.Slot = lc.InstanceID, lc.Slot
	default:
		top, err := e.Git.TopLevel(ctx, dir)
		if err != nil {
			return InitResult{}, e.gitFailed(ctx, fail.Say("Run it at the top of a clone or worktree of the repository"), err)
		}
		if !registry.SamePath(top, dir) {
			return InitResult{}, fail.New(fail.CodeError, fail.Say("cd "+top+" and run it again"), "run init at the top of the checkout, not in a subdirectory")
		}
		name := o.Name
		if name == "" {
			name = filepath.Base(dir)
		}
		if entry.InstanceID, err = e.InstanceID(name); err != nil {
			return InitResult{}, err
		}
		if gitx.KindOf(dir) == gitx.Worktree {
			// adopted, not created by us: IsWorktree stays false so destroy never removes it
			if repo, err := e.Git.MainRepo(ctx, dir); err == nil {
				entry.ParentRepo = &repo
			}
		}
	}
	envPath := filepath.Join(dir, cfg.EnvFile)
	if _, err := os.Stat(envPath); err == nil {
		return InitResult{}, fail.New(fail.CodeError, fail.Run("See it with: %s", fail.Do(string(kind), "status", "")), "already initialized: %s exists", envPath)
	}
	in, err := e.register(ctx, kind, entry, o.Slot, o.Engine, nil, nil)
	if err != nil {
		return InitResult{}, err
	}
	return InitResult{Kind: kind, Instance: in, Headline: in.Headline(cfg)}, nil
}

// register is the one init path of both lifecycles: reserve the entry's slot under the
// registry lock (refusing an id, path or singleton already taken), run between (create's
// worktree), write the env file, and read it back. Any failure or cancellation after the
// reservation calls undo (if any) and removes the entry again.
func (e *Env) register(ctx context.Context, kind config.Kind, entry *registry.Instance, want *int, eng engine.Engine, between func() error, undo func()) (*Instance, error) {
	now := e.Now()
	entry.CreatedAt = Timestamp(now)
	if err := e.reserve(ctx, kind, entry, want, eng); err != nil {
		return nil, err
	}
	e.step("create:reserved")
	abandon := func(err error) (*Instance, error) {
		if undo != nil {
			undo()
		}
		e.unregister(ctx, kind, entry.InstanceID)
		return nil, err
	}
	if ctx.Err() != nil {
		return abandon(interrupted(ctx))
	}
	if between != nil {
		if err := between(); err != nil {
			return abandon(err)
		}
	}
	envPath := filepath.Join(entry.Path, e.Config.EnvFile)
	if err := envfile.Write(envPath, EnvVars(e.Config, e.Home, entry.InstanceID, entry.Slot, now)); err != nil {
		return abandon(failWrite(err))
	}
	if ctx.Err() != nil {
		_ = os.Remove(envPath)
		return abandon(interrupted(ctx))
	}
	in, err := Load(e.Config, kind, entry.Path)
	if in != nil {
		in.Engine = eng
	}
	return in, err
}

// checkCreateOptions refuses, before anything is made, a bad branch name.
func (e *Env) checkCreateOptions(ctx context.Context, o CreateOptions) error {
	if o.Branch != "" {
		return e.checkBranchName(ctx, o.Branch)
	}
	return nil
}

func failWrite(err error) error {
	return fail.With(fail.CodeError, fail.Say("Nothing was kept; check the disk and permissions"), err)
}

// reserve registers entry under the lock: local-prod in its singleton place, a sandbox on
// a free slot (want, or the lowest free) whose ports are free.
func (e *Env) reserve(ctx context.Context, kind config.Kind, entry *registry.Instance, want *int, eng engine.Engine) error {
	return e.updateRegistry(ctx, func(f *registry.File) error {
		if err := e.claim(kind, f, entry, want); err != nil {
			return err
		}
		// Written before the registry (under its lock): a crash between the two leaves a
		// record nobody owns, which the next claim of that id overwrites.
		if err := e.records().Set(entry.InstanceID, eng); err != nil {
			return fail.With(fail.CodeError, fail.Say("Check permissions on "+e.StateDir()), err)
		}
		return nil
	})
}

// claim puts entry into the registry: local-prod in its singleton place, a sandbox on a
// free slot.
func (e *Env) claim(kind config.Kind, f *registry.File, entry *registry.Instance, want *int) error {
	cfg := e.Config
	if kind == config.KindLocalProd {
		if f.LocalProd != nil {
			return fail.New(fail.CodeError, fail.Run("Only one local-prod is allowed; remove it first with: %s", fail.Do(fail.LocalProd, "destroy", "")),
				"local-prod already exists at %s", f.LocalProd.Path)
		}
		if other := f.ByPath(entry.Path); other != nil {
			return fail.New(fail.CodeError, fail.Say("Use a separate clone for local-prod"), "%s is registered as sandbox %s", entry.Path, other.InstanceID)
		}
		f.LocalProd = entry
		return nil
	}
	if f.IsLocalProdPath(entry.Path) {
		return fail.New(fail.CodeError, fail.Say("A directory is either local-prod or a sandbox"), "%s is the registered local-prod clone", entry.Path)
	}
	if _, taken := f.Instances[entry.InstanceID]; taken {
		if entry.IsWorktree {
			return fail.New(fail.CodeError, fail.Say("Pick another name, or destroy the existing one first"), "instance %s is already registered", entry.InstanceID)
		}
		return fail.New(fail.CodeError, fail.Run("Choose another id: %s", fail.Do(fail.Sandbox, "init", "-name=ID")), "instance id %s already exists", entry.InstanceID)
	}
	if other := f.ByPath(entry.Path); other != nil {
		return fail.New(fail.CodeError, fail.Run("Its "+cfg.EnvFile+" is gone; drop the entry with %s, then init again", fail.Do(fail.Sandbox, "gc", "")),
			"%s is already registered as %s", entry.Path, other.InstanceID)
	}
	if entry.InstanceID == cfg.LocalProd.InstanceID {
		return fail.New(fail.CodeError, fail.Say("Pick another name"), "%s is the local-prod id", entry.InstanceID)
	}
	slot, err := e.pickSlot(f, want)
	if err != nil {
		return err
	}
	if busy := ports.Busy(cfg.PortsFor(slot), nil); len(busy) > 0 {
		return fail.With(fail.CodePorts, fail.Run("Stop what holds them (see: %s), or choose another slot: %s", fail.Do(fail.Sandbox, "doctor", ""), slotFlag(entry)),
			&ports.ConflictError{Slot: slot, Busy: busy})
	}
	entry.Slot = slot
	f.Instances[entry.InstanceID] = entry
	return nil
}

// slotFlag is the command that registers entry on a slot of the user's choice: create
// for a new worktree, init for an adopted checkout.
func slotFlag(entry *registry.Instance) fail.Command {
	if entry.IsWorktree {
		return fail.Do(fail.Sandbox, "create", "<name> -slot=N")
	}
	return fail.Do(fail.Sandbox, "init", "-slot=N")
}

func (e *Env) pickSlot(f *registry.File, wantSlot *int) (int, error) {
	cfg := e.Config
	holders := f.SlotHolders()
	if wantSlot != nil {
		want := *wantSlot
		if !cfg.IsSandboxSlot(want) {
			hint := fmt.Sprintf("Sandbox slots are %d-%d", cfg.FirstSandboxSlot, cfg.LastSandboxSlot)
			if want == cfg.LocalProd.Slot {
				hint += fmt.Sprintf("; slot %d is reserved for local-prod", want)
			}
			return 0, fail.New(fail.CodeError, fail.Say(hint), "slot %d is out of range", want)
		}
		if ids := holders[want]; len(ids) > 0 {
			return 0, fail.New(fail.CodeError, fail.Run("Leave the slot out to take the lowest free one, or see: %s", fail.Do(fail.Sandbox, "list", "")),
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
	return 0, fail.New(fail.CodeError, fail.Run("Destroy unused instances with: %s (stale ones: %s)", fail.Do(fail.Sandbox, "destroy", ""), fail.Do(fail.Sandbox, "gc", "")),
		"all %d sandbox slots are in use (%s)", cfg.LastSandboxSlot-cfg.FirstSandboxSlot+1, strings.Join(taken, ", "))
}

// unregister drops an entry after a failed init or during teardown; a failure to do so
// is reported, since list and gc still find the entry.
func (e *Env) unregister(ctx context.Context, kind config.Kind, id string) {
	if err := e.dropEntry(context.WithoutCancel(ctx), kind, id); err != nil {
		e.warn("could not remove registry entry %s: %v (gc removes stale entries)", id, err)
		return
	}
	_ = e.usageHistory().Forget(id) // a new instance of the same name is a new stack
}

// dropEntry removes the instance from the registry, then (once that is written, under
// the same lock) its engine record: a crash or a failed write in between leaves a record
// nobody owns, which the next claim of the id overwrites, never a remote instance that
// is registered but taken for a local one.
func (e *Env) dropEntry(ctx context.Context, kind config.Kind, id string) error {
	return e.updateRegistryThen(ctx, func(f *registry.File) error {
		if kind == config.KindLocalProd {
			f.LocalProd = nil
		} else {
			delete(f.Instances, id)
		}
		return nil
	}, func() {
		if err := e.records().Set(id, engine.Engine{}); err != nil {
			e.warn("could not update %s: %v", e.records().Path, err)
		}
	})
}

// DestroyOptions are the flags of destroy.
type DestroyOptions struct {
	Force          bool
	KeepWorktree   bool // sandboxes
	DiscardChanges bool // sandboxes
	NoHooks        bool // do not run the pre-destroy hooks
	Snapshot       bool // sandboxes: take a snapshot of the volumes first
	NoSnapshot     bool // local-prod: do not take the snapshot it takes by default
}

// DestroyResult is what destroy removed.
type DestroyResult struct {
	Snapshot        string // taken before the volumes went
	Kind            config.Kind
	ID, Path        string
	DockerSkipped   string // why containers were not stopped, when they were not
	WorktreeRemoved bool
	EnvFileRemoved  bool
	ParentRepo      string // where to cd after the worktree went
	// Removed is what the engine held of the instance and no longer does; Kept the images
	// it built under a name the compose file gives (the user's: other instances run them).
	Removed compose.Labelled
	Kept    []compose.Image
}

// Destroy takes the instance of kind apart. A sandbox is the one at the current
// directory, refused rather than guessed at: an unregistered directory, the local-prod
// clone, or a worktree holding uncommitted work (unless DiscardChanges) is never removed,
// and only a worktree this tool created is. Local-prod is the registered one, and its
// clone is always kept. Branches are never deleted.
func (e *Env) Destroy(ctx context.Context, kind config.Kind, o DestroyOptions) (DestroyResult, error) {
	if kind == config.KindLocalProd {
		return e.destroyLocalProd(ctx, o)
	}
	in, entry, err := e.destroyTarget()
	if err != nil {
		return DestroyResult{}, err
	}
	removeTree := entry.IsWorktree && !o.KeepWorktree && e.createdHere(ctx, entry)
	if removeTree && !o.DiscardChanges {
		changes, err := e.Git.Changes(ctx, in.Dir, e.Config.EnvFile)
		if err != nil {
			return DestroyResult{}, e.gitFailed(ctx, fail.Say("Nothing was deleted"), err)
		}
		if len(changes) > 0 {
			return DestroyResult{}, fail.New(fail.CodeError,
				fail.Run("Commit or stash them, or lose them: %s (or keep the directory: %s)",
					fail.Do(fail.Sandbox, "destroy", "-discardChanges"), fail.Do(fail.Sandbox, "destroy", "-keepWorktree")),
				"worktree has %d uncommitted change(s): %s", len(changes), preview(changes))
		}
	}
	what := "containers, volumes and registry entry"
	if removeTree {
		what = "containers, volumes, the worktree (its branch is kept) and registry entry"
	}
	if !o.Force {
		if err := e.confirm(fmt.Sprintf("Destroy sandbox %s at %s? This removes its %s.", in.ID, in.Dir, what)); err != nil {
			return DestroyResult{}, err
		}
	}
	if err := e.runHooks(ctx, config.KindSandbox, hooks.PreDestroy, in, o.NoHooks); err != nil {
		return DestroyResult{}, err
	}
	var snap string
	if o.Snapshot {
		if snap, err = e.Snapshots().beforeLoss(ctx, kind, in.ID, "before-destroy"); err != nil {
			return DestroyResult{}, err
		}
	}
	var tree *registry.Instance
	if removeTree {
		tree = entry
	}
	res, err := e.teardown(ctx, kind, in, entry, tree, o.DiscardChanges)
	res.Snapshot = snap
	return res, err
}

// destroyTarget is the sandbox at the current directory and its registry entry, refused
// rather than guessed at: the local-prod clone, an unregistered directory, or an env
// file that disagrees with the registry.
func (e *Env) destroyTarget() (*Instance, *registry.Instance, error) {
	cfg := e.Config
	reg, err := e.loadRegistry()
	if err != nil {
		return nil, nil, err
	}
	if reg.IsLocalProdPath(e.Cwd) {
		return nil, nil, fail.New(fail.CodeError, fail.Run("To remove local-prod use: %s (it keeps the clone)", fail.Do(fail.LocalProd, "destroy", "")),
			"%s is the local-prod clone; sandbox destroy never touches it", e.Cwd)
	}
	entry := reg.ByPath(e.Cwd)
	in, err := Load(cfg, config.KindSandbox, e.Cwd)
	if err != nil && entry != nil && isNotInstance(err) {
		// A create killed before it wrote the env file: the registry still knows the
		// instance, which is enough to finish taking it apart.
		in = &Instance{ID: entry.InstanceID, Slot: entry.Slot, Dir: e.Cwd,
			Vars: EnvVars(cfg, e.Home, entry.InstanceID, entry.Slot, e.Now())}
		err = nil
	}
	switch {
	case err != nil:
		return nil, nil, err
	case in.ID == cfg.LocalProd.InstanceID || in.Slot == cfg.LocalProd.Slot:
		return nil, nil, fail.New(fail.CodeError, fail.Run("To remove local-prod use: %s", fail.Do(fail.LocalProd, "destroy", "")),
			"%s is a local-prod instance (slot %d); sandbox destroy refuses it", in.ID, in.Slot)
	case entry == nil:
		return nil, nil, fail.New(fail.CodeError,
			fail.Run("Nothing was deleted. Stop its containers with %s, then remove the directory yourself if you mean to", fail.Do(fail.Sandbox, "down", "-volumes")),
			"%s (%s) is not registered in %s, so destroy will not delete it", e.Cwd, in.ID, e.RegistryStore().Path)
	case entry.InstanceID != in.ID:
		return nil, nil, fail.New(fail.CodeError, fail.Run("Fix INSTANCE_ID in "+cfg.EnvFile+" or run %s", fail.Do(fail.Sandbox, "gc", "")),
			"%s says it is %s but the registry records %s there", cfg.EnvFile, in.ID, entry.InstanceID)
	}
	return in, entry, nil
}

func (e *Env) destroyLocalProd(ctx context.Context, o DestroyOptions) (DestroyResult, error) {
	reg, err := e.loadRegistry()
	if err != nil {
		return DestroyResult{}, err
	}
	if reg.LocalProd == nil {
		return DestroyResult{}, fail.New(fail.CodeError, fail.Say("Nothing to destroy"), "no local-prod instance exists")
	}
	entry := reg.LocalProd
	e.noteElsewhere(config.KindLocalProd, entry.Path)
	if !o.Force {
		if err := e.confirm(fmt.Sprintf("Destroy local-prod at %s? Containers and volumes will be removed; the clone is kept.", entry.Path)); err != nil {
			return DestroyResult{}, err
		}
	}
	in, err := Load(e.Config, config.KindLocalProd, entry.Path)
	if err != nil || in.ID != entry.InstanceID {
		in = nil // not ours to stop or delete: only the entry goes
	} else if err := e.runHooks(ctx, config.KindLocalProd, hooks.PreDestroy, in, o.NoHooks); err != nil {
		return DestroyResult{}, err
	}
	var snap string
	if in != nil && !o.NoSnapshot {
		// local-prod's volumes are the user's real data: keep a copy unless told not to
		if snap, err = e.Snapshots().beforeLoss(ctx, config.KindLocalProd, in.ID, "before-destroy"); err != nil {
			return DestroyResult{}, err
		}
	}
	res, err := e.teardown(ctx, config.KindLocalProd, in, entry, nil, false)
	res.Snapshot = snap
	return res, err
}

// teardown is the one teardown path of both lifecycles: compose down with volumes (when
// the instance's env file is its own), then the worktree (tree, only one this tool
// created) or else the env file alone, then the registry entry. A step that fails stops
// it with the rest kept, so a retry or gc can finish.
func (e *Env) teardown(ctx context.Context, kind config.Kind, in *Instance, entry, tree *registry.Instance, discard bool) (DestroyResult, error) {
	res := DestroyResult{Kind: kind, ID: entry.InstanceID, Path: entry.Path}
	e.say("Destroying %s: %s", kind, entry.InstanceID)
	if err := e.stackGone(ctx, kind, in, entry, &res); err != nil {
		return res, err
	}
	e.step("destroy:down")
	if ctx.Err() != nil {
		return res, interrupted(ctx)
	}
	envPath := filepath.Join(entry.Path, e.Config.EnvFile)
	switch {
	case tree != nil:
		if err := e.removeWorktree(ctx, *tree.ParentRepo, tree.Path, discard); err != nil {
			return res, fail.With(fail.CodeError, fail.Say("The registry entry was kept; resolve git's complaint and retry"), err)
		}
		res.WorktreeRemoved, res.ParentRepo = true, *tree.ParentRepo
		e.say("✓ Worktree removed (branch kept)")
		e.step("destroy:worktree")
	case in != nil:
		if err := os.Remove(envPath); err != nil && !os.IsNotExist(err) {
			return res, fail.With(fail.CodeError, fail.Say("Check the file's permissions and retry"), fmt.Errorf("remove %s: %w", envPath, err))
		}
		res.EnvFileRemoved = true
		if kind == config.KindLocalProd {
			e.say("✓ %s removed", envPath)
		} else {
			e.say("✓ %s removed; directory kept at %s", e.Config.EnvFile, in.Dir)
		}
	}
	if err := e.dropEntry(ctx, kind, entry.InstanceID); err != nil {
		return res, fail.With(fail.CodeError, fail.Run("The rest is gone; run %s to drop the stale entry", fail.Do(fail.Sandbox, "gc", "")), err)
	}
	return res, nil
}

// stackGone takes the instance's stack off its engine (proved by takeDown). An
// instance with no env file of its own is skipped, and so is a local engine that does
// not answer (gc finds the leftovers later); a remote one that does not answer stops
// destroy before anything changes.
func (e *Env) stackGone(ctx context.Context, kind config.Kind, in *Instance, entry *registry.Instance, res *DestroyResult) error {
	lc := e.Config.Lifecycle(kind)
	if in == nil {
		res.DockerSkipped = fmt.Sprintf("%s not found or not %s's", filepath.Join(entry.Path, e.Config.EnvFile), entry.InstanceID)
		e.warn("%s; containers not stopped (gc finds leftovers)", res.DockerSkipped)
		return nil
	}
	eng, err := e.EngineOf(entry.InstanceID)
	if err != nil {
		return err
	}
	in.Engine = eng
	if err := e.unstack(ctx, eng, entry.InstanceID, true); err != nil {
		return err
	}
	_ = os.Remove(e.stackFile(entry.InstanceID)) // what its last up deployed; gone with the stack
	if eng.Local() {
		if err := e.checkDocker(ctx); err != nil {
			res.DockerSkipped = err.Error()
			e.warn("could not stop containers: %v (gc can remove them later)", err)
			return nil
		}
		return e.takeDown(ctx, in, lc, res)
	}
	err = e.on(ctx, eng, false, func(r *Env) error {
		err := r.takeDown(ctx, in, lc, res)
		if err == nil {
			err = r.tunnel.RemoveMirror(ctx, in.Dir)
		}
		return err
	})
	if err == nil {
		e.releaseEngine(ctx, in)
	}
	return err
}

// takeDown removes the instance's stack from the engine e is bound to, and proves it:
// what carries the instance's label is listed before and after; what was there and is
// gone is reported with its size, and anything still there (but the images the compose
// file names, which are the user's) is an error naming it, with nothing else changed.
func (e *Env) takeDown(ctx context.Context, in *Instance, lc config.Lifecycle, res *DestroyResult) error {
	if err := e.awaitStackGone(ctx, in); err != nil {
		return err
	}
	label := e.Config.ComposeProjectLabel
	before, err := e.Docker.Labelled(ctx, label, in.ID)
	if err != nil {
		return e.teardownFailed(ctx, err)
	}
	e.Snapshots().removeHelpersOf(ctx, in.ID)
	if err := e.Docker.Teardown(ctx, e.project(in, lc, nil), label, io.Discard, e.Err); err != nil {
		return e.teardownFailed(ctx, err)
	}
	e.untagPushed(ctx, in, before.Images)
	after, err := e.Docker.Labelled(ctx, label, in.ID)
	if err != nil {
		return e.teardownFailed(ctx, err)
	}
	left := after
	left.Images, res.Kept = nil, nil
	for _, img := range after.Images {
		if compose.BuiltFor(img, in.ID) {
			left.Images = append(left.Images, img)
		} else {
			res.Kept = append(res.Kept, img)
		}
	}
	res.Removed = removed(before, after)
	where := ""
	if !in.Engine.Local() {
		where = " on " + in.Engine.Name()
	}
	e.say("✓ Removed%s: %s", where, freedText(res.Removed))
	for _, img := range res.Kept {
		e.say("  kept image %s (%s): the compose file names it, and other instances may run it", img.Ref, shared.FormatSize(img.Bytes))
	}
	if !left.Empty() {
		return fail.New(fail.CodeError, fail.Say("Nothing else was changed: remove them (docker rm -f, docker volume rm, docker network rm, docker image rm), then destroy again"),
			"destroy left %s on engine %s: %s", in.ID, in.Engine.Name(), left)
	}
	return nil
}

// untagPushed removes the tags up gave the instance's images in its Swarm's registry
// (<registry>/<tag>, see -registry): they are the tool's, where the tag the compose file
// names is the user's. By name: the image itself stays under that other tag.
func (e *Env) untagPushed(ctx context.Context, in *Instance, images []compose.Image) {
	if in.Engine.Swarm == nil || in.Engine.Swarm.Registry == "" {
		return
	}
	for _, img := range images {
		if strings.HasPrefix(img.Ref, in.Engine.Swarm.Registry+"/") {
			_ = e.Docker.RemoveImage(ctx, img.Ref) // what is left is named by the check that follows
		}
	}
}

func (e *Env) teardownFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return interrupted(ctx)
	}
	return fail.With(fail.CodeError, fail.Say("Nothing else was changed; fix Docker (or the engine) and retry"), err)
}

// freedText is what a teardown removed, counted, with sizes where Docker knows them.
func freedText(r compose.Labelled) string {
	count := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	parts := []string{count(len(r.Containers), "container"),
		count(len(r.Volumes), "volume") + " (" + shared.FormatSize(r.VolumeBytes) + ")",
		count(len(r.Networks), "network")}
	if len(r.Images) > 0 {
		parts = append(parts, count(len(r.Images), "image")+" ("+shared.FormatSize(r.ImageBytes())+")")
	}
	return strings.Join(parts, ", ")
}

// removed is what before had and after no longer has.
func removed(before, after compose.Labelled) compose.Labelled {
	gone := func(b, a []string) []string {
		var out []string
		for _, x := range b {
			if !slices.Contains(a, x) {
				out = append(out, x)
			}
		}
		return out
	}
	r := compose.Labelled{Containers: gone(before.Containers, after.Containers), Volumes: gone(before.Volumes, after.Volumes),
		Networks: gone(before.Networks, after.Networks), VolumeBytes: before.VolumeBytes - after.VolumeBytes}
	for _, img := range before.Images {
		if !slices.ContainsFunc(after.Images, func(x compose.Image) bool { return x.ID == img.ID }) {
			r.Images = append(r.Images, img)
		}
	}
	return r
}

// createdHere double-checks a registry claim before anything is deleted: the entry says
// it is a worktree we created, its parent repository exists, and git agrees the path is
// one of that repository's worktrees.
func (e *Env) createdHere(ctx context.Context, entry *registry.Instance) bool {
	if entry.ParentRepo == nil || gitx.KindOf(entry.Path) != gitx.Worktree {
		return false
	}
	list, err := e.Git.WorktreeList(ctx, *entry.ParentRepo)
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
func (e *Env) removeWorktree(ctx context.Context, repo, path string, force bool) error {
	envPath := filepath.Join(path, e.Config.EnvFile)
	envData, readErr := os.ReadFile(envPath)
	_ = os.Remove(envPath)
	if err := e.Git.WorktreeRemove(ctx, repo, path, force); err != nil {
		if readErr == nil {
			_ = os.WriteFile(envPath, envData, 0o644)
		}
		return err
	}
	return nil
}
