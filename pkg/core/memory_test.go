package core

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/stats"
)

const gib = int64(1) << 30

func TestPlanMemory(t *testing.T) {
	now := map[string]stats.Usage{
		"acme--a": {Containers: 2, MemBytes: 3 * gib},
		"other":   {Containers: 1, MemBytes: 1 * gib},
		"acme--c": {Containers: 0, DiskBytes: gib}, // stopped: volumes only
		"acme--b": {Containers: 1, MemBytes: gib / 2},
	}
	seen := map[string]stats.Seen{"acme--b": {MemBytes: 2 * gib}}
	p := planMemory("acme--b", 4*gib, now, seen)
	if !p.Known || p.Need != gib+gib/2 || p.InUse() != 4*gib || len(p.Others) != 2 || p.Others[0].Project != "acme--a" {
		t.Fatalf("%+v", p)
	}
	if p.Fits() {
		t.Error("4 GiB in use + 1.5 GiB needed fits in 4 GiB")
	}
	if p := planMemory("acme--b", 6*gib, now, seen); !p.Fits() {
		t.Errorf("5.5 of 6 GiB does not fit: %+v", p)
	}
	if p := planMemory("acme--new", 1, now, seen); p.Known || !p.Fits() {
		t.Errorf("a first start is judged: %+v", p)
	}
	// an instance that already uses more than it used before adds nothing
	if p := planMemory("acme--b", 4*gib+1, map[string]stats.Usage{"acme--a": {Containers: 1, MemBytes: 4 * gib}, "acme--b": {Containers: 2, MemBytes: 3 * gib}}, seen); p.Need != 0 || !p.Fits() {
		t.Errorf("%+v", p)
	}
}

// memoryWorld is a world whose engine has total bytes, one other stack running with
// using bytes, and a sandbox "b" that used last bytes when it last ran (0: never ran).
func memoryWorld(t *testing.T, total, using, last int64) (*world, *Env) {
	w := newWorld(t)
	w.create("a")
	b := w.create("b").Instance
	linux := platform.Platform{OS: "linux", Arch: "arm64"}
	w.docker.engine = platform.Engine{Platform: linux, Native: linux, MemTotal: total, CPUs: 4, OperatingSystem: "Docker Desktop"}
	w.docker.states["acme--a"] = compose.Counts{Running: 2, Total: 2}
	w.docker.usage = map[string]stats.Usage{"acme--a": {Containers: 2, MemBytes: using}}
	e := w.at(b.Dir)
	if last > 0 {
		if err := e.usageHistory().Record(map[string]stats.Usage{"acme--b": {Containers: 2, MemBytes: last}}, fixedNow); err != nil {
			t.Fatal(err)
		}
	}
	return w, e
}

func TestUpRefusesWhatTheEngineHasNoMemoryFor(t *testing.T) {
	ctx := context.Background()
	w, e := memoryWorld(t, 4*gib, 3*gib, 2*gib)
	_, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true})
	if !errors.Is(err, ErrMemory) || fail.Code(err) != 1 {
		t.Fatalf("up: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"acme--b needs about 2.0 GB", "Docker Desktop's VM has 4.0 GB", "running stacks use 3.0 GB", "acme--a 3.0 GB"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("not one line: %q", msg)
	}
	if !names(err, fail.Sandbox, "up") || !strings.Contains(fail.FixOf(err).Text, "Docker Desktop's memory") || fail.FixOf(err).Commands[1].Args != "-force" {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	if len(w.docker.called("up ")) != 0 {
		t.Errorf("compose up ran: %v", w.docker.calls)
	}
	// -force starts it, saying so
	if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	if len(w.docker.called("up acme--b")) != 1 || !strings.Contains(w.prog.text(), "starting acme--b anyway (-force)") {
		t.Errorf("forced up: %v\n%s", w.docker.calls, w.prog.text())
	}
	// what up measured of the other stack is remembered for its own next start
	if got := e.usageHistory().Load()["acme--a"]; got.MemBytes != 3*gib {
		t.Errorf("history of a: %+v", got)
	}
}

func TestUpAllowsWhatFitsAndAFirstStart(t *testing.T) {
	ctx := context.Background()
	w, e := memoryWorld(t, 8*gib, 3*gib, 2*gib)
	res, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true})
	if err != nil || len(w.docker.called("up acme--b")) != 1 || res.Platform != "linux/arm64" {
		t.Fatalf("up: %+v %v", res, err)
	}
	if strings.Contains(w.prog.text(), "Warning") {
		t.Errorf("warned: %s", w.prog.text())
	}
	w, e = memoryWorld(t, 4*gib, 3900<<20, 0)
	if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.prog.text(), "Warning: first start of acme--b here: its memory use is not known yet") {
		t.Errorf("no first-start warning: %s", w.prog.text())
	}
	// an engine that cannot say what it is stops up before anything starts
	w, e = memoryWorld(t, 8*gib, gib, gib)
	w.docker.usage = nil
	w.docker.statesErr = nil
	e.Docker = engineless{w.docker}
	_, err = e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true})
	if err == nil || !strings.Contains(err.Error(), "what the engine is") || len(w.docker.called("up ")) != 0 {
		t.Errorf("up without docker info: %v %v", err, w.docker.calls)
	}
}

// engineless is a Docker whose `docker info` fails.
type engineless struct{ *fakeDocker }

func (engineless) Engine(context.Context) (platform.Engine, error) {
	return platform.Engine{}, errors.New("docker info: Cannot connect")
}

// TestDoctorSeesDockerDesktopAsAMachineWithLimits: the Desktop VM is recognised, its
// memory and disk are reported, and a directory it does not share is named with the
// setting that shares it; the probe file is gone afterwards.
func TestDoctorSeesDockerDesktopAsAMachineWithLimits(t *testing.T) {
	ctx := context.Background()
	w, e := memoryWorld(t, 4*gib, 3900<<20, 0)
	w.docker.diskFree = 1 << 30
	w.docker.unshared = w.root // the repository's parent, where worktrees go
	e.Config.Shared = []config.SharedSubdir{{Name: "data", Env: "ACME_DATA_DIR"}}
	mustMkdir(t, e.SharedPath())
	rep := e.Doctor(ctx)
	find := func(check string) Finding {
		for _, f := range rep.Findings {
			if f.Check == check {
				return f
			}
		}
		t.Fatalf("no %q finding in %+v", check, rep.Findings)
		return Finding{}
	}
	if f := find("engine"); !f.OK || !strings.Contains(f.Detail, "Docker Desktop (this machine's VM), 4 CPUs, containers run as linux/arm64") {
		t.Errorf("engine: %+v", f)
	}
	if f := find("engine memory"); f.OK || !strings.Contains(f.Detail, "4.0 GB; running stacks use 3.8 GB") {
		t.Errorf("memory: %+v", f)
	}
	if f := find("engine disk"); f.OK || !strings.Contains(f.Detail, "1.0 GB free of 60.0 GB") || !strings.Contains(f.Fix.Text, "disk limit") {
		t.Errorf("disk: %+v", f)
	}
	w.docker.diskFree = 0
	rep = e.Doctor(ctx)
	if f := find("engine sees " + w.root); f.OK || !strings.Contains(f.Fix.Text, "Docker Desktop → Settings → Resources → File sharing") {
		t.Errorf("unshared: %+v", f)
	}
	if f := find("engine sees " + e.SharedPath()); !f.OK {
		t.Errorf("shared data: %+v", f)
	}
	if left, _ := filepath.Glob(filepath.Join(w.root, ".sandbox-probe-*")); len(left) != 0 {
		t.Errorf("probe files left: %v", left)
	}
}

// TestPrepareBuildsForTheEngineNotTheHost: on a Mac (GOOS=darwin in the caller's
// environment, as `go env` would have it) driving a linux/arm64 engine, a `go build`
// prepare step gets GOOS=linux GOARCH=arm64 and the SANDBOX_PLATFORM variables; another
// command gets the variables but keeps the host's GOOS; the table's own Env wins.
func TestPrepareBuildsForTheEngineNotTheHost(t *testing.T) {
	ctx := context.Background()
	w, e := memoryWorld(t, 8*gib, gib, gib)
	bin := t.TempDir()
	for _, name := range []string{"go", "npm"} {
		// each run leaves its environment in <n>-<name>.env, n counting the runs
		mustWrite(t, filepath.Join(bin, name), "#!/bin/sh\nn=$(ls "+bin+"/*.env 2>/dev/null | wc -l)\nenv > \""+bin+"/$n-"+name+".env\"\n")
		if err := os.Chmod(filepath.Join(bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.Vars = []string{"PATH=" + bin + ":/usr/bin:/bin", "GOOS=darwin", "GOARCH=arm64", "HOME=/Users/me"}
	e.Config.Prepare = []config.Command{
		{Name: "go", Args: []string{"build", "-o", "bin/app", "."}, Env: map[string]string{"CGO_ENABLED": "0"}},
		{Name: "npm", Args: []string{"run", "build"}},
		{Name: "go", Args: []string{"build", "./tools"}, Env: map[string]string{"GOARCH": "amd64"}},
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(bin, name+".env"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	goEnv, npmEnv, pinned := read("0-go"), read("1-npm"), read("2-go")
	for _, want := range []string{"GOOS=linux\n", "GOARCH=arm64\n", "CGO_ENABLED=0\n", "SANDBOX_PLATFORM=linux/arm64\n", "DOCKER_DEFAULT_PLATFORM=linux/arm64\n"} {
		if !strings.Contains(goEnv, want) {
			t.Errorf("go build's environment lacks %q:\n%s", want, goEnv)
		}
	}
	if !strings.Contains(pinned, "GOARCH=amd64\n") || !strings.Contains(pinned, "GOOS=linux\n") {
		t.Errorf("the table's GOARCH did not win:\n%s", pinned)
	}
	for _, want := range []string{"GOOS=darwin\n", "SANDBOX_PLATFORM_ARCH=arm64\n"} {
		if !strings.Contains(npmEnv, want) {
			t.Errorf("npm's environment lacks %q:\n%s", want, npmEnv)
		}
	}
	if len(w.docker.called("up acme--b")) != 1 {
		t.Errorf("compose up did not follow the prepare steps: %v", w.docker.calls)
	}
}

// TestPrepareStartsAtOnceForTheKnownPlatformAndRebuildsWhenTheEngineChanged: the second
// up builds for the platform the engine had last time without waiting for docker info;
// when the engine turns out to be another one, the build runs again for it.
func TestPrepareStartsAtOnceForTheKnownPlatformAndRebuildsWhenTheEngineChanged(t *testing.T) {
	ctx := context.Background()
	w, e := memoryWorld(t, 8*gib, gib, gib)
	bin := t.TempDir()
	mustWrite(t, filepath.Join(bin, "go"), "#!/bin/sh\necho \"$GOARCH\" >> \""+filepath.Join(bin, "builds")+"\"\n")
	if err := os.Chmod(filepath.Join(bin, "go"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	e.Vars = []string{"PATH=" + bin + ":/usr/bin:/bin"}
	e.Config.Prepare = []config.Command{{Name: "go", Args: []string{"build", "."}}}
	up := func() {
		t.Helper()
		if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true}); err != nil {
			t.Fatal(err)
		}
	}
	up() // learns linux/arm64
	if p, ok := e.knownPlatform(engine.Engine{}); !ok || p.String() != "linux/arm64" {
		t.Fatalf("platform not kept: %v %v", p, ok)
	}
	amd := platform.Platform{OS: "linux", Arch: "amd64"}
	w.docker.engine.Platform, w.docker.engine.Native = amd, amd // the engine was replaced
	up()
	b, _ := os.ReadFile(filepath.Join(bin, "builds"))
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "arm64 arm64 amd64" {
		t.Errorf("builds for %v, want arm64 (first), arm64 (guessed), amd64 (again, for the new engine)", got)
	}
}

func TestAPrepareStepWithNothingToDoIsSkipped(t *testing.T) {
	dir := t.TempDir()
	arm := platform.Platform{OS: "linux", Arch: "arm64"}
	c := config.Command{Name: "go", Output: "bin/app", Inputs: []string{"src/*.go"}}
	mustWrite(t, filepath.Join(dir, "src", "main.go"), "package main")
	if upToDate(dir, c, arm) {
		t.Fatal("no output yet, but skipped")
	}
	mustWrite(t, filepath.Join(dir, "bin", "app"), "binary")
	if upToDate(dir, c, arm) {
		t.Error("no record of the platform it was built for, but skipped")
	}
	mustWrite(t, platformStamp(dir, c), "linux/arm64\n")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "src", "main.go"), old, old); err != nil {
		t.Fatal(err)
	}
	if !upToDate(dir, c, arm) {
		t.Error("up to date, but run")
	}
	if upToDate(dir, c, platform.Platform{OS: "linux", Arch: "amd64"}) {
		t.Error("built for another platform, but skipped")
	}
	if err := os.Chtimes(filepath.Join(dir, "src", "main.go"), time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if upToDate(dir, c, arm) {
		t.Error("a source is newer, but skipped")
	}
	if upToDate(dir, config.Command{Name: "go", Output: "bin/app"}, arm) || upToDate(dir, config.Command{Name: "go", Output: "bin/app", Inputs: []string{"none/*.go"}}, arm) {
		t.Error("a step without inputs (or whose inputs match nothing) was skipped")
	}
}

// TestARefusedUpLeavesNoBuildBehind: the prepare step starts while the ports are
// checked; when the port check refuses (exit 3), the build is stopped and waited for, so
// nothing goes on writing after the command has said no.
func TestARefusedUpLeavesNoBuildBehind(t *testing.T) {
	w := newWorld(t)
	a := w.create("a").Instance
	bin := t.TempDir()
	mustWrite(t, filepath.Join(bin, "go"), "#!/bin/sh\necho $$ > "+filepath.Join(bin, "pid")+"\nexec sleep 20\n")
	if err := os.Chmod(filepath.Join(bin, "go"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	e := w.at(a.Dir)
	e.Vars = []string{"PATH=" + bin + ":/usr/bin:/bin"}
	e.Config.Prepare = []config.Command{{Name: "go", Args: []string{"build", "."}}}
	// the port check answers only once the build has started, so it has one to stop
	w.docker.onPublished = func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(bin, "pid")); err == nil {
				return
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:47081") // slot 1's web port
	if err != nil {
		t.Skipf("port 47081 is taken here: %v", err)
	}
	defer l.Close()
	start := time.Now()
	_, err = e.Up(context.Background(), config.KindSandbox, StartOptions{NoWait: true})
	if fail.Code(err) != fail.CodePorts {
		t.Fatalf("up with a busy port: %v (code %d)", err, fail.Code(err))
	}
	if time.Since(start) > 10*time.Second || len(w.docker.called("up ")) != 0 {
		t.Errorf("the refusal waited for the build to finish (%s) or started compose: %v", time.Since(start), w.docker.calls)
	}
	b, err := os.ReadFile(filepath.Join(bin, "pid"))
	if err != nil {
		t.Fatalf("the build never started: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
		_ = p.Kill()
		t.Errorf("the build (pid %d) still ran after up returned", pid)
	}
}
