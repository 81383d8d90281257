package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// describePlatform is ", runs linux/arm64" (with the emulation, when there is one).
func describePlatform(eng platform.Engine) string {
	switch {
	case eng.Platform.IsZero():
		return ""
	case eng.Emulated():
		return fmt.Sprintf(", containers run as %s under emulation (the engine is %s)", eng.Platform, eng.Native)
	}
	return ", containers run as " + eng.Platform.String()
}

// machineFindings are doctor's checks of this machine's engine as a machine with limits
// (Docker Desktop's VM above all): what it is and runs as, its memory and disk, and
// whether its containers see the host paths instances bind-mount (the shared data and
// the directory worktrees are made in).
func (e *Env) machineFindings(ctx context.Context, reg *registry.File) []Finding {
	eng, err := e.Docker.Engine(ctx)
	if err != nil {
		return []Finding{{Check: "engine", Detail: err.Error(), Fix: dockerFix(e)}}
	}
	what := eng.OperatingSystem
	if eng.Desktop() {
		what = "Docker Desktop (this machine's VM)"
	}
	out := []Finding{{Check: "engine", OK: true, Detail: fmt.Sprintf("%s, %d CPUs%s", what, eng.CPUs, describePlatform(eng))}}
	out = append(out, e.memoryFinding(ctx, eng))
	free, total, err := e.Docker.AddressRoom(ctx)
	out = append(out, networksFinding("engine networks", free, total, err))
	out = append(out, e.diskOfEngine(ctx, eng))
	if out[len(out)-1].OK {
		for _, dir := range e.mountedDirs(ctx, reg) {
			out = append(out, e.seesFinding(ctx, dir, eng))
		}
	}
	return out
}

// dockerFix is doctor's one remedy for a Docker that does not answer, whichever check
// found it: the engine may be missing or stopped, or compose v2 missing.
func dockerFix(e *Env) fail.Remedy {
	text := "install or start Docker (Docker Engine or Docker Desktop) with the docker compose v2 plugin"
	if e.Config.SetupDoc != "" {
		text += "; see " + e.Config.SetupDoc
	}
	return fail.Say(text)
}

// memoryFinding reports the engine's memory and what running stacks use of it now.
func (e *Env) memoryFinding(ctx context.Context, eng platform.Engine) Finding {
	f := Finding{Check: "engine memory", OK: true}
	now, err := e.Docker.Usage(ctx, e.Config.ComposeProjectLabel)
	if err != nil {
		f.Detail = shared.FormatSize(eng.MemTotal) + " (what runs now could not be measured: " + err.Error() + ")"
		return f
	}
	e.remember(now)
	plan := planMemory("", eng.MemTotal, now, nil)
	f.Detail = fmt.Sprintf("%s; running stacks use %s", shared.FormatSize(eng.MemTotal), shared.FormatSize(plan.InUse()))
	if eng.MemTotal > 0 && plan.InUse()*10 > eng.MemTotal*9 {
		f.OK = false
		f.Fix = fail.Say("stop stacks you do not need, or give the engine more memory (Docker Desktop: Settings → Resources)")
	}
	return f
}

// diskOfEngine reports the free space of the engine's own disk (for Docker Desktop, its
// VM's disk image, which fills independently of the Mac's disk).
func (e *Env) diskOfEngine(ctx context.Context, eng platform.Engine) Finding {
	total, free, err := e.Docker.EngineDisk(ctx)
	if err != nil {
		fix := fail.Say("the engine cannot run the helper; see the error")
		if eng.Emulated() {
			fix = emulationFix(eng)
		}
		return Finding{Check: "engine disk", Detail: err.Error(), Fix: fix}
	}
	f := Finding{Check: "engine disk", OK: free >= minEngineFree, Detail: fmt.Sprintf("%s free of %s", shared.FormatSize(free), shared.FormatSize(total))}
	if !f.OK {
		f.Fix = fail.Run("free space for the engine: docker system prune, or %s; Docker Desktop: raise the disk limit in Settings → Resources", fail.Do(fail.Sandbox, "gc", "-volumes"))
	}
	return f
}

// mountedDirs are the host directories this machine's instances bind-mount from: the
// shared data directory, and each directory worktrees are made in (beside the
// repository, and beside every registered local instance).
func (e *Env) mountedDirs(ctx context.Context, reg *registry.File) []string {
	set := map[string]bool{}
	if len(e.Config.Shared) > 0 {
		set[e.SharedPath()] = true
	}
	if e.Git != nil {
		if _, repo, err := e.Git.Locate(ctx, e.Cwd); err == nil && repo != "" {
			set[filepath.Dir(repo)] = true
		}
	}
	engines, _ := e.records().Load()
	for _, in := range e.allEntries(reg) {
		if engines[in.InstanceID].Local() {
			set[filepath.Dir(in.Path)] = true
		}
	}
	var dirs []string
	for d := range set {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// seesFinding puts a marker file in dir and asks a container whether a bind mount of
// dir shows it: Docker Desktop mounts a path it does not share empty, or refuses it.
func (e *Env) seesFinding(ctx context.Context, dir string, eng platform.Engine) Finding {
	check := "engine sees " + dir
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	marker := filepath.Join(dir, ".sandbox-probe-"+hex.EncodeToString(rnd))
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return Finding{Check: check, Detail: "could not write a probe file: " + err.Error()}
	}
	defer os.Remove(marker)
	if err := e.Docker.Sees(ctx, marker); err != nil {
		fix := fail.Run("the engine does not run on this machine's files: point DOCKER_HOST at this machine's engine, or put sandboxes on that engine with %s", fail.Do(fail.Sandbox, "create", "<name> -engine=ssh://HOST"))
		if eng.Desktop() {
			fix = fail.Say("add " + dir + " (or a parent) in Docker Desktop → Settings → Resources → File sharing, then apply and restart")
		}
		return Finding{Check: check, Detail: err.Error(), Fix: fix}
	}
	return Finding{Check: check, OK: true, Detail: "a bind mount shows its files"}
}
