package core

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
)

// emulatedWorld is a sandbox "b" on an amd64 engine asked for linux/arm64.
func emulatedWorld(t *testing.T) (*world, *Env) {
	w := newWorld(t)
	b := w.create("b").Instance
	w.docker.engine = platform.Engine{Platform: platform.Platform{OS: "linux", Arch: "arm64"}, Native: platform.Platform{OS: "linux", Arch: "amd64"},
		Requested: true, MemTotal: 8 * gib, CPUs: 2, OperatingSystem: "Debian GNU/Linux 12 (bookworm)"}
	e := w.at(b.Dir)
	e.Vars = append(e.Vars, "DOCKER_DEFAULT_PLATFORM=linux/arm64")
	return w, e
}

// TestUpRefusesAPlatformTheEngineCannotRun: without an emulator every container would
// start and die with "exec format error", and up would wait out its gate. up refuses
// before compose starts anything, with doctor's fix, and -force does not override it;
// once the engine runs the platform, that is kept and not asked again.
func TestUpRefusesAPlatformTheEngineCannotRun(t *testing.T) {
	ctx := context.Background()
	w, e := emulatedWorld(t)
	w.docker.helperErr = errors.New(`engine disk: docker run: exit status 1: exec /sandbox-helper: exec format error`)
	for _, force := range []bool{false, true} {
		_, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true, Force: force})
		if err == nil || fail.Code(err) != fail.CodeError {
			t.Fatalf("up (force %v): %v", force, err)
		}
		for _, want := range []string{"cannot run linux/arm64 containers", "linux/amd64", "exec format error"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if fix := fail.FixOf(err).Text; !strings.Contains(fix, "qemu-user-static and binfmt-support") {
			t.Errorf("fix: %q", fix)
		}
		if up := w.docker.called("up "); len(up) != 0 {
			t.Fatalf("compose up ran (force %v): %v", force, up)
		}
	}
	if n := len(w.docker.called("engine disk")); n != 2 {
		t.Errorf("a refusal is asked again each time (the fix is to install the emulator): probed %d times", n)
	}

	w.docker.helperErr = nil // the emulator is installed
	for range 2 {
		if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.docker.called("engine disk")); n != 3 {
		t.Errorf("a platform the engine runs is proved once: probed %d times in all", n)
	}
	if len(w.docker.called("up acme--b")) != 2 {
		t.Errorf("up: %v", w.docker.calls)
	}
}

// TestTheEnginesOwnPlatformIsNeverProbed: nothing is run to prove the engine's own
// platform, and a probe that fails for another reason refuses nothing.
func TestTheEnginesOwnPlatformIsNeverProbed(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	b := w.create("b").Instance
	e := w.at(b.Dir)
	w.docker.helperErr = errors.New("exec format error")
	if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(w.docker.called("engine disk")); n != 0 {
		t.Errorf("probed the engine's own platform %d times", n)
	}
	w, e = emulatedWorld(t)
	w.docker.helperErr = errors.New("build the snapshot helper: go: not found")
	if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true}); err != nil {
		t.Errorf("a probe that failed for another reason refused up: %v", err)
	}
}

// TestAContainerThatCannotRunEndsTheGate: a container that stopped saying "exec format
// error" (an image built for another CPU) ends the gate at once with that line, exit 4,
// instead of a wait for a port nothing will ever listen on.
func TestAContainerThatCannotRunEndsTheGate(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	b := w.create("b").Instance
	e := w.at(b.Dir)
	e.Config.Gate = []config.Check{{Name: "Web", Kind: config.CheckTCP, PortEnv: "ACME_WEB_PORT"}}
	w.docker.containers["acme--b"] = []compose.Container{{Name: "acme--b-db-1", Service: "db", State: "running"},
		{Name: "acme--b-web-1", Service: "web", State: "exited"}}
	w.docker.logs = map[string]string{"web": "exec /app: exec format error\n"}
	started := time.Now()
	_, err := e.Up(ctx, config.KindSandbox, StartOptions{Timeout: time.Minute})
	if took := time.Since(started); took > 10*time.Second {
		t.Errorf("the gate ran %s", took)
	}
	if err == nil || fail.Code(err) != fail.CodeGate || !strings.Contains(err.Error(), "service web cannot run on this engine: exec /app: exec format error") {
		t.Fatalf("up: %v", err)
	}
	if fix := fail.FixOf(err).Text; !strings.Contains(fix, "built for another CPU") {
		t.Errorf("fix: %q", fix)
	}
	if logs := w.docker.called("logs acme--b"); len(logs) != 1 || logs[0] != "logs acme--b web 5" {
		t.Errorf("only the stopped container's logs are read, once: %v", logs)
	}
}
