package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// foreignPlatform is a CPU this machine neither is nor emulates (.ci/run registers QEMU
// for arm64 only): containers built for it die with "exec format error".
const foreignPlatform = "linux/s390x"

// requireNoForeignEmulation skips when the kernel runs s390x binaries after all (an
// emulator registered for it): nothing would be refused.
func requireNoForeignEmulation(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-s390x"); err == nil && strings.HasPrefix(string(b), "enabled") {
		t.Skip("this machine runs s390x binaries (qemu-s390x in binfmt_misc): no platform here cannot run")
	}
}

// TestDockerAPlatformTheEngineCannotRunIsRefusedAtOnce: asked for a CPU the engine has no
// emulator for, up (even -force) and restore refuse before anything starts or stops,
// with the fix, instead of starting every container and waiting out the gate; the
// running stack is left as it was.
func TestDockerAPlatformTheEngineCannotRunIsRefusedAtOnce(t *testing.T) {
	requireNoForeignEmulation(t)
	s := newStack(t)
	foreign, _ := platform.Parse(foreignPlatform)
	t.Cleanup(func() { // after the containers are gone (cleanups run last first)
		removeImagesOf(t, "ktrdr--cpu")
		bounded(t, 60*time.Second, "docker", "image", "rm", "-f", snapshot.HelperImage(foreign))
	})
	s.cleanup("ktrdr--cpu", "ktrdr--seeded")
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:create", "cpu", "-slot=8")
	dir := filepath.Join(s.work, "ktrdr--cpu")
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.sandbox.yml"), []byte(ownImageCompose), 0o644); err != nil {
		t.Fatal(err)
	}
	s.must(dir, "sandbox:up", "-noSecrets", "-noWait")
	s.must(dir, "sandbox:snapshot", "-name=native")
	running := docker(t, "ps", "-q", "--filter", "label=com.docker.compose.project=ktrdr--cpu")

	s.extra = append(s.extra, "DOCKER_DEFAULT_PLATFORM="+foreignPlatform)
	for _, args := range [][]string{{"sandbox:up", "-noSecrets"}, {"sandbox:up", "-noSecrets", "-force"}, {"sandbox:restore", "-name=native"},
		{"sandbox:snapshot", "-name=foreign"}, {"sandbox:create", "seeded", "-slot=9", "-seed=ktrdr--cpu:native"}} {
		where := dir
		if args[0] == "sandbox:create" {
			where = repo
		}
		started := time.Now()
		out, code := s.run(where, args...)
		took := time.Since(started)
		t.Logf("%v: exit %d after %s\n%s", args, code, took.Round(time.Millisecond), out)
		if code != 1 || !strings.Contains(out, "Error: engine local (linux/amd64) cannot run "+foreignPlatform+" containers") ||
			!strings.Contains(out, "qemu-user-static and binfmt-support") {
			t.Errorf("%v: exit %d, want 1 with the engine's refusal and the fix:\n%s", args, code, out)
		}
		if strings.Contains(out, "Startability Gate") || strings.Contains(out, "Running: docker compose") {
			t.Errorf("%v started something before refusing:\n%s", args, out)
		}
		if took > 3*time.Minute { // the first builds the helper for the platform
			t.Errorf("%v took %s to refuse", args, took)
		}
	}
	if now := docker(t, "ps", "-q", "--filter", "label=com.docker.compose.project=ktrdr--cpu"); now != running || strings.TrimSpace(now) == "" {
		t.Errorf("the running stack changed: %q, was %q", now, running)
	}
	if _, err := os.Stat(filepath.Join(s.work, "ktrdr--seeded")); !os.IsNotExist(err) {
		t.Errorf("the refused create -seed left its worktree: %v", err)
	}
	if out := s.must(repo, "sandbox:snapshots", "-all"); strings.Contains(out, "foreign") {
		t.Errorf("the refused snapshot was kept:\n%s", out)
	}
	if out := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=ktrdr--seeded"); strings.TrimSpace(out) != "" {
		t.Errorf("the refused create -seed left volumes: %s", out)
	}
}

// TestDockerAContainerThatCannotRunEndsTheGate: a service whose image is built for a CPU
// the engine cannot run dies at once; the gate ends then with that reason (exit 4), not
// after its two minutes of "connection refused".
func TestDockerAContainerThatCannotRunEndsTheGate(t *testing.T) {
	requireNoForeignEmulation(t)
	s := newStack(t)
	image := fmt.Sprintf("ktrdr-e2e-alien:%d", os.Getpid())
	t.Cleanup(func() { bounded(t, 60*time.Second, "docker", "image", "rm", "-f", image) })
	s.cleanup("ktrdr--alien")
	buildForeignImage(t, image)
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:create", "alien", "-slot=9")
	dir := filepath.Join(s.work, "ktrdr--alien")
	compose := "services:\n  web:\n    image: " + image + "\n    platform: " + foreignPlatform + "\n    pull_policy: never\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.sandbox.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	out, code := s.run(dir, "sandbox:up", "-noSecrets")
	took := time.Since(started)
	t.Logf("up: exit %d after %s\n%s", code, took.Round(time.Millisecond), out)
	if code != 4 || !strings.Contains(out, "service web cannot run on this engine") || !strings.Contains(out, "exec format error") {
		t.Errorf("up: exit %d, want 4 naming the service and the kernel's refusal:\n%s", code, out)
	}
	if took > time.Minute {
		t.Errorf("the gate ran %s: it waited instead of ending when the container died", took)
	}
}

// buildForeignImage builds tag: a static program for foreignPlatform, FROM scratch.
func buildForeignImage(t *testing.T, tag string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"main.go": "package main\n\nfunc main() { select {} }\n", "go.mod": "module alien\n\ngo 1.22\n",
		"Dockerfile": "FROM scratch\nCOPY alien /alien\nENTRYPOINT [\"/alien\"]\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := platform.Parse(foreignPlatform)
	build := exec.Command("go", "build", "-o", "alien", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s: %v\n%s", foreignPlatform, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "--platform", foreignPlatform, "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build for %s: %v\n%s", foreignPlatform, err, out)
	}
}
