package core

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ktrdr/sandbox/pkg/atomicfile"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
)

// An engine's own platform rarely changes, and up wants it before anything else (the
// prepare step builds for it): it is kept beside the engine's tunnel files, so up can
// start building at once while docker info confirms it. So are the other platforms the
// engine was seen to run (under emulation): proving one costs a container. Memory and
// everything else are always asked fresh.
func (e *Env) factsPath(eng engine.Engine) string {
	key := "local"
	if !eng.Local() {
		key = eng.Key()
	}
	return filepath.Join(e.StateDir(), "engines", key, "platform.json")
}

// keptFacts is the file: the engine's own platform (the fields of platform.Platform, as
// earlier versions wrote it) and what it was seen to run besides.
type keptFacts struct {
	platform.Platform
	Runs []string `json:"runs,omitempty"`
}

func (e *Env) keptFacts(eng engine.Engine) (keptFacts, bool) {
	b, err := os.ReadFile(e.factsPath(eng))
	if err != nil {
		return keptFacts{}, false
	}
	var k keptFacts
	if json.Unmarshal(b, &k) != nil || k.Platform.IsZero() {
		return keptFacts{}, false
	}
	return k, true
}

func (e *Env) keepFacts(eng engine.Engine, k keptFacts) {
	b, err := json.Marshal(k)
	if err != nil || os.MkdirAll(filepath.Dir(e.factsPath(eng)), 0o700) != nil {
		return
	}
	_ = atomicfile.WriteFile(e.factsPath(eng), append(b, '\n'), 0o644)
}

// knownPlatform is what the engine's containers ran as when last asked, with the
// caller's DOCKER_DEFAULT_PLATFORM applied now; false when never asked.
func (e *Env) knownPlatform(eng engine.Engine) (platform.Platform, bool) {
	native, ok := e.keptNative(eng)
	if !ok {
		return platform.Platform{}, false
	}
	p, _, err := platform.Resolve(native, e.Vars)
	return p, err == nil
}

// keptNative is the engine's own platform as kept, if it is.
func (e *Env) keptNative(eng engine.Engine) (platform.Platform, bool) {
	k, ok := e.keptFacts(eng)
	return k.Platform, ok
}

// rememberPlatform keeps what the engine said it is (a failure only costs the next up
// the wait for docker info). A changed engine forgets what the old one ran.
func (e *Env) rememberPlatform(eng engine.Engine, facts platform.Engine) {
	if facts.Native.IsZero() {
		return
	}
	if kept, ok := e.keptNative(eng); ok && kept == facts.Native {
		return
	}
	e.keepFacts(eng, keptFacts{Platform: facts.Native})
}

// checkRuns refuses (exit 1), before anything starts, a platform the engine cannot run:
// an amd64 engine asked for linux/arm64 (DOCKER_DEFAULT_PLATFORM) with no emulator
// installed starts every container, and each dies at once with "exec format error".
// The engine's own platform always runs; another is proved once by running the
// snapshot helper built for it, and kept with the engine's facts. A refusal is not kept:
// the next command asks again, so installing the emulator is the whole fix. A probe
// that fails for another reason says nothing of the platform: what follows reports it.
func (e *Env) checkRuns(ctx context.Context, eng engine.Engine, facts platform.Engine) error {
	if facts.Platform.IsZero() || !facts.Emulated() {
		return nil
	}
	want := facts.Platform.String()
	kept, ok := e.keptFacts(eng)
	if ok && kept.Platform == facts.Native && slices.Contains(kept.Runs, want) {
		return nil
	}
	_, _, err := e.Docker.EngineDisk(ctx) // runs the helper, built for facts.Platform
	switch {
	case err == nil:
		if !ok || kept.Platform != facts.Native {
			kept = keptFacts{Platform: facts.Native}
		}
		kept.Runs = append(kept.Runs, want)
		e.keepFacts(eng, kept)
		return nil
	case ctx.Err() != nil:
		return interrupted(ctx)
	case platform.CannotExec(err.Error()):
		return fail.With(fail.CodeError, emulationFix(facts),
			fmt.Errorf("engine %s (%s) cannot run %s containers: a test container failed with \"exec format error\"", eng.Name(), facts.Native, want))
	}
	e.trace("platform probe failed: " + err.Error())
	return nil
}

// checkRunsFor is checkRuns for instance id, asked of the engine e is bound to, before a
// snapshot, restore or seed runs the helper there. Only a platform asked for with
// DOCKER_DEFAULT_PLATFORM can be one the engine cannot run: without it nothing is asked.
func (e *Env) checkRunsFor(ctx context.Context, id string) error {
	if _, requested, err := platform.Resolve(platform.Platform{}, e.Vars); err != nil || !requested {
		return nil
	}
	facts, err := e.Docker.Engine(ctx)
	if err != nil {
		return nil // an engine that does not answer is reported by the steps that follow
	}
	eng, err := e.EngineOf(id)
	if err != nil {
		return err
	}
	return e.checkRuns(ctx, eng, facts)
}

// emulationFix is what to do when an engine must run containers of another CPU.
func emulationFix(facts platform.Engine) fail.Remedy {
	return fail.Say(fmt.Sprintf("containers for %s need emulation on this %s engine: Docker Desktop runs them with Rosetta or QEMU; on Linux install qemu-user-static and binfmt-support (or unset %s)",
		facts.Platform, facts.Native, platform.DefaultPlatformEnv))
}
