package core

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// usageHistory is the file of what each instance used when it last ran.
func (e *Env) usageHistory() stats.History {
	return stats.History{Path: filepath.Join(e.StateDir(), "usage.json")}
}

// remember records what the running instances use now (list, status, up and down all
// measure it); a failure to write only loses a figure.
func (e *Env) remember(now map[string]stats.Usage) {
	_ = e.usageHistory().Record(now, e.Now())
}

// StackMemory is what one running compose project uses now.
type StackMemory struct {
	Project  string
	MemBytes int64
}

// MemoryPlan is what up knows of the engine's memory before it starts an instance.
type MemoryPlan struct {
	Instance string
	Total    int64         // the engine's memory (a Desktop VM's size)
	Others   []StackMemory // the other running stacks, most first
	// Need is what starting the instance adds: the most it used when it last ran, less
	// what its containers that already run use. Known is false on a first start.
	Need  int64
	Known bool
}

// InUse is what the other running stacks use together.
func (p MemoryPlan) InUse() int64 {
	var n int64
	for _, o := range p.Others {
		n += o.MemBytes
	}
	return n
}

// Fits reports whether the instance can start without pushing the engine past its
// memory. A first start has no figure to judge by and is let through.
func (p MemoryPlan) Fits() bool { return !p.Known || p.Total <= 0 || p.InUse()+p.Need <= p.Total }

// planMemory weighs what runs now against what the instance used last time.
func planMemory(id string, total int64, now map[string]stats.Usage, seen map[string]stats.Seen) MemoryPlan {
	p := MemoryPlan{Instance: id, Total: total}
	for project, u := range now {
		if project != id && u.Containers > 0 {
			p.Others = append(p.Others, StackMemory{Project: project, MemBytes: u.MemBytes})
		}
	}
	sort.Slice(p.Others, func(i, j int) bool {
		if p.Others[i].MemBytes != p.Others[j].MemBytes {
			return p.Others[i].MemBytes > p.Others[j].MemBytes
		}
		return p.Others[i].Project < p.Others[j].Project
	})
	if last, ok := seen[id]; ok {
		p.Known = true
		p.Need = max(0, last.MemBytes-now[id].MemBytes)
	}
	return p
}

// ErrMemory is wrapped when up refuses to start an instance the engine has no memory for.
var ErrMemory = errors.New("not enough engine memory")

// memoryRefusal is up's error for a plan that does not fit: the numbers, and the stacks
// that could be stopped to make room.
func memoryRefusal(kind config.Kind, p MemoryPlan, eng platform.Engine) error {
	var names []string
	for _, o := range p.Others {
		names = append(names, fmt.Sprintf("%s %s", o.Project, shared.FormatSize(o.MemBytes)))
	}
	where := "the engine has"
	if eng.Desktop() {
		where = "Docker Desktop's VM has"
	}
	raise := "raise Docker Desktop's memory (Settings → Resources)"
	if !eng.Desktop() {
		raise = "free memory on the engine's host"
	}
	return fail.New(fail.CodeError, fail.Run("Stop a stack you do not need (in its directory: %s), "+raise+", or start it anyway: %s",
		fail.Do(fail.Sandbox, "down", ""), fail.Do(string(kind), "up", "-force")),
		"%w: %s needs about %s (the most it used when it last ran); %s %s and running stacks use %s: %s",
		ErrMemory, p.Instance, shared.FormatSize(p.Need), where, shared.FormatSize(p.Total), shared.FormatSize(p.InUse()), strings.Join(names, ", "))
}

// memoryVerdict is what the memory check found, delivered while up goes on.
type memoryVerdict struct {
	plan   MemoryPlan
	eng    platform.Engine
	engErr error // docker info failed: up cannot know what to build for
	err    error // the usage could not be measured; up goes on with a warning
}

// memoryCheckAsync weighs, while up checks ports and builds, whether the engine has the
// memory the instance used last time on top of what the other running stacks use now.
// docker stats is asked only when another stack runs.
func (e *Env) memoryCheckAsync(ctx context.Context, id string) <-chan memoryVerdict {
	done := make(chan memoryVerdict, 1)
	go func() {
		var v memoryVerdict
		v.eng, v.engErr = e.Docker.Engine(ctx)
		if v.engErr != nil {
			done <- v
			return
		}
		seen := e.usageHistory().Load()
		states, err := e.Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
		if err != nil {
			v.err = err
			done <- v
			return
		}
		othersRun := false
		for p, c := range states {
			othersRun = othersRun || p != id && c.Running > 0
		}
		// Alone on the engine, the figure from the last run is all there is to weigh:
		// docker stats (0.5-2 s) is asked only when another stack runs.
		now := map[string]stats.Usage{}
		if othersRun {
			if now, err = e.Docker.Usage(ctx, e.Config.ComposeProjectLabel); err != nil {
				v.err = err
				done <- v
				return
			}
			e.remember(now)
		}
		v.plan = planMemory(id, v.eng.MemTotal, now, seen)
		done <- v
	}()
	return done
}

// judgeMemory turns the verdict into up's answer: an error when the instance does not fit
// (unless forced), a warning on a first start or when the engine could not say.
func (e *Env) judgeMemory(kind config.Kind, v memoryVerdict, force bool) error {
	switch {
	case v.engErr != nil:
		return fail.With(fail.CodeError, runDoctor, fmt.Errorf("what the engine is: %w", v.engErr))
	case v.err != nil:
		e.warn("memory check skipped: %v", v.err)
	case !v.plan.Known:
		e.warn("first start of %s here: its memory use is not known yet (the engine has %s; %s in use by running stacks); it is recorded from now on",
			v.plan.Instance, shared.FormatSize(v.plan.Total), shared.FormatSize(v.plan.InUse()))
	case !v.plan.Fits() && force:
		e.warn("starting %s anyway (-force): it used %s last time, %s of the engine's %s is in use",
			v.plan.Instance, shared.FormatSize(v.plan.Need), shared.FormatSize(v.plan.InUse()), shared.FormatSize(v.plan.Total))
	case !v.plan.Fits():
		return memoryRefusal(kind, v.plan, v.eng)
	}
	return nil
}
