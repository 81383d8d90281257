package core

import (
	"context"

	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/hooks"
	"github.com/ktrdr/sandbox/pkg/include"
)

// runHooks runs the event's hooks for the instance unless skip. A failing pre-* hook is
// an error that stops the action before it changes anything; a failing post-* hook is a
// warning, and the action's result stands.
func (e *Env) runHooks(ctx context.Context, event hooks.Event, in *Instance, skip bool) error {
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
		return fail.With(fail.CodeError, fail.Say("Nothing was changed. Fix the hook, or pass -noHooks to skip hooks"), err)
	}
	e.warn("%v (the action itself succeeded)", err)
	return nil
}

// includeFiles copies what the repository's include file names from the main checkout
// into a new worktree.
func (e *Env) includeFiles(ctx context.Context, repo, worktree string) (*include.Result, error) {
	plan, err := include.MakePlan(ctx, e.Git, repo)
	if err != nil {
		return nil, fail.With(fail.CodeError, fail.Say("Fix "+include.FileName+", or pass -noInclude to skip it"), err)
	}
	if plan.Empty() {
		return nil, nil
	}
	res, err := include.Copy(ctx, plan, repo, worktree, e.Progress.Meter(include.FileName), include.Options{})
	if err != nil {
		if ctx.Err() != nil {
			return nil, interrupted(ctx)
		}
		return nil, fail.With(fail.CodeError, fail.Say("Nothing was kept; check the disk, or pass -noInclude to skip it"), err)
	}
	return &res, nil
}
