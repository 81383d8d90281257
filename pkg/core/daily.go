package core

import (
	"context"

	"github.com/ktrdr/sandbox/pkg/config"

	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/hooks"
	"github.com/ktrdr/sandbox/pkg/include"
)

// runHooks runs the event's hooks for the instance unless skip. A failing pre-* hook is
// an error that stops the action before it changes anything; a failing post-* hook is a
// warning, and the action's result stands.
func (e *Env) runHooks(ctx context.Context, kind config.Kind, event hooks.Event, in *Instance, skip bool) error {
	if skip {
		return nil
	}
	_, err := hooks.Run(ctx, hooks.Options{Event: event, Dir: in.Dir, Env: in.Vars, Base: e.Vars,
		Configured: e.Config.Hooks, Timeout: e.Config.HookTimeout, Stdout: e.Out, Stderr: e.Err})
	if err == nil {
		return nil
	}
	if event.IsPre() {
		if ctx.Err() != nil {
			return interrupted(ctx)
		}
		// a pre-<action> hook failed: the same action without hooks is the way around it
		again := fail.Do(string(kind), "destroy", "-noHooks")
		switch event {
		case hooks.PreUp:
			again = fail.Do(string(kind), "up", "-noHooks")
		case hooks.PreDown:
			again = fail.Do(string(kind), "down", "-noHooks")
		}
		return fail.With(fail.CodeError, fail.Run("Nothing was changed. Fix the hook, or skip hooks: %s", again), err)
	}
	e.warn("%v (the action itself succeeded)", err)
	return nil
}

// includeFiles copies what the repository's include file names from the main checkout
// into a new worktree.
func (e *Env) includeFiles(ctx context.Context, repo, worktree string) (*include.Result, error) {
	plan, err := include.MakePlan(ctx, e.Git, repo)
	if err != nil {
		return nil, fail.With(fail.CodeError, fail.Run("Fix "+include.FileName+", or skip it: %s", fail.Do(fail.Sandbox, "create", "<name> -noInclude")), err)
	}
	if plan.Empty() {
		return nil, nil
	}
	res, err := include.Copy(ctx, plan, repo, worktree, e.Progress.Meter(include.FileName), include.Options{})
	if err != nil {
		if ctx.Err() != nil {
			return nil, interrupted(ctx)
		}
		return nil, fail.With(fail.CodeError, fail.Run("Nothing was kept; check the disk, or skip the include file: %s", fail.Do(fail.Sandbox, "create", "<name> -noInclude")), err)
	}
	return &res, nil
}
