package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/lock"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// SharedOutcome says which of initShared's three modes ran.
type SharedOutcome string

const (
	SharedCopied   SharedOutcome = "copied"   // -from: subdirectories made equal to the source
	SharedMinimal  SharedOutcome = "minimal"  // -minimal: missing directories made, data kept
	SharedEmpty    SharedOutcome = "empty"    // neither, and no data: the structure was made
	SharedExisting SharedOutcome = "existing" // neither, and data exists: shown, not changed
)

// SharedResult is what initShared did and what the shared directory now holds.
type SharedResult struct {
	Outcome SharedOutcome
	Root    string
	Summary shared.Report
	// Restart names the running instances that still mount a replaced directory;
	// RestartUnknown says why they could not be looked for.
	Restart        []string
	RestartUnknown string
}

// InitShared sets up the shared-data directory: from a source checkout (from), as an
// empty structure (minimal), or, with neither, by reporting what is there.
func (e *Env) InitShared(ctx context.Context, from string, minimal bool) (SharedResult, error) {
	root := e.SharedPath()
	if from != "" {
		abs, err := filepath.Abs(from)
		if err != nil {
			return SharedResult{}, fail.New(fail.CodeError, fail.Remedy{}, "Source not found: %s", from)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return SharedResult{}, fail.New(fail.CodeError, fail.Say("Give a directory that holds "+e.subdirList()), "Source not found: %s", from)
		}
		if shared.IsWithin(abs, root) || shared.IsWithin(root, abs) {
			return SharedResult{}, fail.New(fail.CodeError, fail.Say("Copy from a checkout outside "+root),
				"source %s overlaps the shared data directory %s", abs, root)
		}
		from = abs
	}
	e.say("Initializing shared data directory: %s", root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return SharedResult{}, fail.With(fail.CodeError, fail.Say("Check permissions on "+filepath.Dir(root)), err)
	}
	// The lock lives with the tool's state, not in the shared directory: that holds only
	// data, and users rsync it between machines.
	release, err := lock.Acquire(ctx, filepath.Join(e.StateDir(), "initshared.lock"), 0, "shared data")
	if errors.Is(err, lock.ErrBusy) {
		var busy *lock.BusyError
		holder := "another process"
		if errors.As(err, &busy) && busy.HolderPID > 0 {
			holder = fmt.Sprintf("pid %d", busy.HolderPID)
		}
		return SharedResult{}, fail.New(fail.CodeError, fail.Say("Wait for it to finish, then run again"),
			"shared data is busy: another initShared is running (held by %s)", holder)
	}
	if err != nil {
		return SharedResult{}, fail.With(fail.CodeError, fail.Say("Check permissions on "+e.StateDir()), err)
	}
	defer release()
	res := SharedResult{Root: root}
	switch {
	case minimal:
		res.Outcome = SharedMinimal
		return res, e.makeStructure(&res)
	case from != "":
		res.Outcome = SharedCopied
		return res, e.copyShared(ctx, from, &res)
	}
	res.Summary = shared.Inspect(root, e.sharedNames())
	for _, sd := range res.Summary.Subdirs {
		if sd.Files > 0 {
			res.Outcome = SharedExisting
			return res, nil
		}
	}
	res.Outcome = SharedEmpty
	return res, e.makeStructure(&res)
}

func (e *Env) subdirList() string {
	if len(e.Config.Shared) == 0 {
		return "the shared data"
	}
	s := ""
	for i, sd := range e.Config.Shared {
		switch {
		case i == 0:
		case i == len(e.Config.Shared)-1:
			s += " or "
		default:
			s += ", "
		}
		s += sd.Name + "/"
	}
	return s
}

// makeStructure makes every missing shared subdirectory, never touching existing content.
func (e *Env) makeStructure(res *SharedResult) error {
	e.say("  Creating empty structure...")
	for _, sd := range e.Config.Shared {
		if err := os.MkdirAll(filepath.Join(res.Root, sd.Name), 0o755); err != nil {
			return fail.With(fail.CodeError, fail.Say("Check permissions on "+res.Root), err)
		}
	}
	res.Summary = shared.Inspect(res.Root, e.sharedNames())
	return nil
}

func (e *Env) copyShared(ctx context.Context, from string, res *SharedResult) error {
	var replaced []string
	copied := map[string]shared.Stats{} // a copied subdir now equals its source
	for _, sd := range e.Config.Shared {
		src, dst := filepath.Join(from, sd.Name), filepath.Join(res.Root, sd.Name)
		fi, err := os.Stat(src)
		if err != nil || !fi.IsDir() {
			e.say("  Skipping %s/ (not found in %s; existing data left alone)", sd.Name, from)
			continue
		}
		prog := announce{Progress: e.Progress.Meter(sd.Name + "/"), e: e, name: sd.Name}
		r, err := shared.Replace(ctx, src, dst, prog)
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx)
			}
			return fail.With(fail.CodeError, fail.Say("Fix the cause and run it again; it resumes cheaply"), err)
		}
		copied[sd.Name] = r.Source
		for _, sk := range r.Skipped {
			e.say("    Note: skipped %s/%s (not a regular file, directory or symlink)", sd.Name, sk)
		}
		if r.UpToDate {
			e.say("    up to date (nothing copied)")
			continue
		}
		e.say("    done: %d copied, %d unchanged", r.Copied, r.Linked)
		if r.Destroyed {
			replaced = append(replaced, dst)
		}
	}
	res.Summary = shared.Report{Path: res.Root, Initialized: true}
	for _, sd := range e.Config.Shared {
		if st, ok := copied[sd.Name]; ok {
			res.Summary.Subdirs = append(res.Summary.Subdirs, shared.SubdirReport{Name: sd.Name, Path: filepath.Join(res.Root, sd.Name), Exists: true, Stats: st})
			continue
		}
		res.Summary.Subdirs = append(res.Summary.Subdirs, shared.Inspect(res.Root, []string{sd.Name}).Subdirs...)
	}
	if len(replaced) > 0 {
		res.Restart, res.RestartUnknown = e.staleMounts(ctx, replaced)
	}
	return nil
}

// staleMounts names the running instances that mount a replaced directory: a bind mount
// holds the directory it found at start, so they see the old data until recreated.
func (e *Env) staleMounts(ctx context.Context, replaced []string) ([]string, string) {
	reg, err := e.RegistryStore().Load()
	if err != nil {
		return nil, err.Error()
	}
	states, err := e.Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
	if err != nil {
		return nil, err.Error()
	}
	var stale []string
	for _, in := range e.allEntries(reg) {
		if states[in.InstanceID].Running == 0 {
			continue
		}
		vars, _ := envfile.Read(filepath.Join(in.Path, e.Config.EnvFile))
		for _, sd := range e.Config.Shared {
			if v := vars[sd.Env]; v != "" && contains(replaced, v) {
				stale = append(stale, fmt.Sprintf("%s (%s)", in.InstanceID, in.Path))
				break
			}
		}
	}
	sort.Strings(stale)
	return stale, ""
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if filepath.Clean(x) == filepath.Clean(v) {
			return true
		}
	}
	return false
}

// announce prints the "Copying" line with the source's size once Replace has measured it.
type announce struct {
	shared.Progress
	e    *Env
	name string
}

func (a announce) Start(total shared.Stats) {
	a.e.say("  Copying %s/ ... %s (%d files)", a.name, shared.FormatSize(total.Bytes), total.Files)
	a.Progress.Start(total)
}
