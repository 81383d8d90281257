package core

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/ktrdr/sandbox/pkg/atomicfile"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/platform"
)

// An engine's own platform rarely changes, and up wants it before anything else (the
// prepare step builds for it): it is kept beside the engine's tunnel files, so up can
// start building at once while docker info confirms it. Memory and everything else are
// always asked fresh.
func (e *Env) factsPath(eng engine.Engine) string {
	key := "local"
	if !eng.Local() {
		key = eng.Key()
	}
	return filepath.Join(e.StateDir(), "engines", key, "platform.json")
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
	b, err := os.ReadFile(e.factsPath(eng))
	if err != nil {
		return platform.Platform{}, false
	}
	var native platform.Platform
	if json.Unmarshal(b, &native) != nil || native.IsZero() {
		return platform.Platform{}, false
	}
	return native, true
}

// rememberPlatform keeps what the engine said it is (a failure only costs the next up
// the wait for docker info).
func (e *Env) rememberPlatform(eng engine.Engine, facts platform.Engine) {
	if facts.Native.IsZero() {
		return
	}
	if kept, ok := e.keptNative(eng); ok && kept == facts.Native {
		return
	}
	b, err := json.Marshal(facts.Native)
	if err != nil || os.MkdirAll(filepath.Dir(e.factsPath(eng)), 0o700) != nil {
		return
	}
	_ = atomicfile.WriteFile(e.factsPath(eng), append(b, '\n'), 0o644)
}
