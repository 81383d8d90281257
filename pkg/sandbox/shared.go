package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/instance"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// ProgressInterval is how often a copy prints a progress line when not on a terminal.
var ProgressInterval = 3 * time.Second

// InitShared sets up the shared-data directory: from a source checkout (-from), as an
// empty structure (-minimal), or, with neither, by reporting what is there.
func (s Sandboxes) InitShared(ctx context.Context, from string, minimal bool) error {
	h := s.Host
	root := h.SharedPath()
	if from != "" {
		abs, err := filepath.Abs(from)
		if err != nil {
			return fail.New(fail.CodeError, "", "Source not found: %s", from)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return fail.New(fail.CodeError, "Give a directory that holds data/, models/ or strategies/", "Source not found: %s", from)
		}
		if shared.IsWithin(abs, root) || shared.IsWithin(root, abs) {
			return fail.New(fail.CodeError, "Copy from a checkout outside "+root,
				"source %s overlaps the shared data directory %s", abs, root)
		}
		from = abs
	}
	h.Printf("Initializing shared data directory: %s\n", root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fail.With(fail.CodeError, "Check permissions on "+filepath.Dir(root), err)
	}
	unlock, err := lockShared(root)
	if err != nil {
		return err
	}
	defer unlock()
	switch {
	case minimal:
		if err := s.createStructure(root, "minimal"); err != nil {
			return err
		}
		h.Printf("\nNote: no data copied; existing data was kept. Copy data with: go tool mage sandbox:initShared -from=PATH\n")
		return nil
	case from != "":
		return s.copyShared(ctx, root, from)
	}
	rep := shared.Inspect(root, h.SharedNames())
	var hasData bool
	for _, sd := range rep.Subdirs {
		hasData = hasData || sd.Files > 0
	}
	if hasData {
		h.Printf("\nShared data already exists:\n")
		s.printSummary(rep)
		h.Printf("\nUse -from=PATH to replace it from a checkout, or -minimal to add any missing directories.\n")
		return nil
	}
	if err := s.createStructure(root, "empty"); err != nil {
		return err
	}
	h.Printf("\nPopulate it with:\n  go tool mage sandbox:initShared -from=/path/to/existing/checkout\n")
	return nil
}

// createStructure makes every missing shared subdirectory (never touching existing
// content) and lists them.
func (s Sandboxes) createStructure(root, how string) error {
	h := s.Host
	h.Printf("  Creating empty structure...\n")
	for _, sd := range h.Config.Shared {
		if err := os.MkdirAll(filepath.Join(root, sd.Name), 0o755); err != nil {
			return fail.With(fail.CodeError, "Check permissions on "+root, err)
		}
	}
	h.Printf("\nShared data initialized (%s):\n", how)
	for _, sd := range h.Config.Shared {
		h.Printf("  %s/\n", filepath.Join(root, sd.Name))
	}
	return nil
}

func (s Sandboxes) copyShared(ctx context.Context, root, from string) error {
	h := s.Host
	var replaced []string
	copied := map[string]shared.Stats{} // a copied subdir now equals its source
	for _, sd := range h.Config.Shared {
		src, dst := filepath.Join(from, sd.Name), filepath.Join(root, sd.Name)
		fi, err := os.Stat(src)
		if err != nil || !fi.IsDir() {
			h.Printf("  Skipping %s/ (not found in %s; existing data left alone)\n", sd.Name, from)
			continue
		}
		prog := announce{Progress: shared.NewProgress(h.Out, sd.Name+"/", h.Progress, ProgressInterval), h: h, name: sd.Name}
		res, err := shared.Replace(ctx, src, dst, prog)
		if err != nil {
			return fail.With(fail.CodeError, "Fix the cause and run it again; it resumes cheaply", err)
		}
		copied[sd.Name] = res.Source
		for _, sk := range res.Skipped {
			h.Printf("    Note: skipped %s/%s (not a regular file, directory or symlink)\n", sd.Name, sk)
		}
		switch {
		case res.UpToDate:
			h.Printf("    up to date (nothing copied)\n")
		default:
			h.Printf("    done: %d copied, %d unchanged\n", res.Copied, res.Linked)
			if res.Destroyed {
				replaced = append(replaced, dst)
			}
		}
	}
	h.Printf("\nShared data initialized:\n")
	summary := shared.Report{Path: root, Initialized: true}
	for _, sd := range h.Config.Shared {
		if st, ok := copied[sd.Name]; ok {
			summary.Subdirs = append(summary.Subdirs, shared.SubdirReport{Name: sd.Name, Path: filepath.Join(root, sd.Name), Exists: true, Stats: st})
			continue
		}
		summary.Subdirs = append(summary.Subdirs, shared.Inspect(root, []string{sd.Name}).Subdirs...)
	}
	s.printSummary(summary)
	if len(replaced) > 0 {
		s.warnStaleMounts(ctx, replaced)
	}
	return nil
}

func (s Sandboxes) printSummary(rep shared.Report) {
	for _, sd := range rep.Subdirs {
		if sd.Exists {
			s.Host.Printf("  %s/ (%s, %d files)\n", sd.Path, shared.FormatSize(sd.Bytes), sd.Files)
		} else {
			s.Host.Printf("  %s/ (not found)\n", sd.Path)
		}
	}
}

// warnStaleMounts names the running instances that mount a replaced directory: a bind
// mount holds the directory it found at start, so they see the old data until recreated.
func (s Sandboxes) warnStaleMounts(ctx context.Context, replaced []string) {
	h := s.Host
	reg, err := h.Registry().Load()
	if err != nil {
		fmt.Fprintf(h.Err, "Warning: could not check running instances (%v); restart any running instance to see the new data\n", err)
		return
	}
	states, err := compose.Engine{Env: h.Env}.ProjectStates(ctx, h.Config.ComposeProjectLabel)
	if err != nil {
		fmt.Fprintf(h.Err, "Warning: could not check running instances (%v); restart any running instance to see the new data\n", err)
		return
	}
	var stale []string
	all := reg.Sorted()
	if reg.LocalProd != nil {
		all = append(all, reg.LocalProd)
	}
	for _, in := range all {
		if states[in.InstanceID].Running == 0 {
			continue
		}
		vars, _ := envfile.Read(filepath.Join(in.Path, h.Config.EnvFile))
		for _, sd := range h.Config.Shared {
			if v := vars[sd.Env]; v != "" && contains(replaced, v) {
				stale = append(stale, fmt.Sprintf("%s (%s)", in.InstanceID, in.Path))
				break
			}
		}
	}
	if len(stale) == 0 {
		return
	}
	sort.Strings(stale)
	h.Printf("\nRestart needed: these running instances still see the old data until recreated:\n")
	for _, st := range stale {
		h.Printf("  %s\n", st)
	}
	h.Printf("In each: go tool mage sandbox:down && go tool mage sandbox:up (localProd:down/up for local-prod)\n")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if filepath.Clean(x) == filepath.Clean(v) {
			return true
		}
	}
	return false
}

// lockShared keeps two initShared runs from working on the same directory at once.
func lockShared(root string) (func(), error) {
	path := filepath.Join(root, ".initshared.lock")
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fail.With(fail.CodeError, "", fmt.Errorf("lock %s: %w", path, err))
	}
	if !ok {
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
			holder = "pid " + strings.TrimSpace(string(b))
		}
		return nil, fail.New(fail.CodeError, "Wait for it to finish, then run again",
			"shared data is busy: another initShared is running (held by %s)", holder)
	}
	_ = os.WriteFile(path, []byte(fmt.Sprintln(os.Getpid())), 0o644)
	return func() { _ = fl.Unlock() }, nil
}

// announce prints the "Copying" line with the source's size once Replace has measured it.
type announce struct {
	shared.Progress
	h    *instance.Host
	name string
}

func (a announce) Start(total shared.Stats) {
	a.h.Printf("  Copying %s/ ... %s (%d files)\n", a.name, shared.FormatSize(total.Bytes), total.Files)
	a.Progress.Start(total)
}
