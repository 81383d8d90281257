package e2e

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// emulatedPlatform is the engine platform the cross-platform suite asks for: another CPU
// than this machine's, run by QEMU user emulation.
const emulatedPlatform = "linux/arm64"

// requireEmulation skips loudly unless the kernel runs arm64 binaries through QEMU
// (binfmt_misc with Debian's qemu-user-static); in CI it must, and .ci/run sets it up.
func requireEmulation(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	if err == nil && strings.HasPrefix(string(b), "enabled") {
		return
	}
	notRun(t, "EMULATED-ARM64 SUITE NOT RUN: no enabled qemu-aarch64 in /proc/sys/fs/binfmt_misc (as root: scripts/ensure-emulation.sh)")
}

// TestDockerEmulatedArm64 runs the demo stack on an engine asked for linux/arm64 (as a
// Mac user with an Apple Silicon engine, or anyone driving an ARM server, gets): the
// prepare step builds the demo for arm64, compose builds arm64 images, the gate passes
// with every service emulated, and snapshot → change → restore and create -seed work
// with the helper itself running as arm64.
func TestDockerEmulatedArm64(t *testing.T) {
	requireEmulation(t)
	s := newStack(t)
	image := demoImage + "-arm64"
	s.extra = []string{"DOCKER_DEFAULT_PLATFORM=" + emulatedPlatform, "KTRDR_DEMO_IMAGE=" + image}
	s.cleanup("ktrdr--arm", "ktrdr--armseed")
	want, _ := platform.Parse(emulatedPlatform)
	helper := snapshot.HelperImage(want)
	t.Cleanup(func() {
		bounded(t, 60*time.Second, "docker", "image", "rm", "-f", image, helper)
		bounded(t, 60*time.Second, "docker", "image", "prune", "-f", "--filter", "label=sandbox.demo=1")
	})
	started := time.Now()
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:create", "arm")
	dir := filepath.Join(s.work, "ktrdr--arm")
	out := s.must(dir, "sandbox:up", "-noSecrets", "-timeout=4m")
	if !strings.Contains(out, "Startability Gate: PASSED") {
		t.Fatalf("up:\n%s", out)
	}
	t.Logf("create + up (build, emulated gate): %s", time.Since(started).Round(time.Millisecond))
	if got := imageArch(t, image); got != "arm64" {
		t.Errorf("demo image is %s, want arm64", got)
	}
	if bin, err := elf.Open(filepath.Join(dir, "demo", "bin", "demo")); err != nil || bin.Machine != elf.EM_AARCH64 {
		t.Errorf("the prepare step did not build an arm64 binary: %v", err)
	} else {
		bin.Close()
	}
	var st struct {
		Platform string `json:"platform"`
		Native   string `json:"native_platform"`
	}
	raw := s.must(dir, "sandbox:status", "-json")
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st.Platform != emulatedPlatform || st.Native == "" || st.Native == emulatedPlatform {
		t.Errorf("status -json platform %q native %q (%v)\n%s", st.Platform, st.Native, err, raw)
	}
	if out := s.must(dir, "sandbox:status"); !strings.Contains(out, "Platform: linux/arm64 (emulated on the engine's ") {
		t.Errorf("status:\n%s", out)
	}
	if out := s.must(repo, "sandbox:list", "-json"); !strings.Contains(out, `"platform": "linux/arm64"`) {
		t.Errorf("list -json:\n%s", out)
	}

	api := 28001
	addRow(t, api, "one")
	s.must(dir, "sandbox:snapshot", "-name=arm")
	if got := imageArch(t, helper); got != "arm64" {
		t.Errorf("snapshot helper is %s, want arm64", got)
	}
	addRow(t, api, "two")
	if out := s.must(dir, "sandbox:restore", "-name=arm", "-noSecrets", "-timeout=4m"); !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("restore:\n%s", out)
	}
	if got := rows(t, api); got != "one" {
		t.Fatalf("rows after restore: %q, want the snapshot's", got)
	}
	s.must(repo, "sandbox:create", "armseed", "-seed=ktrdr--arm:arm")
	seeded := filepath.Join(s.work, "ktrdr--armseed")
	s.must(seeded, "sandbox:up", "-noSecrets", "-timeout=4m")
	if got := rows(t, 28002); got != "one" {
		t.Errorf("seeded rows: %q", got)
	}
	s.must(seeded, "sandbox:destroy", "-force")
	s.must(dir, "sandbox:destroy", "-force")
	t.Logf("emulated arm64 suite: %s", time.Since(started).Round(time.Millisecond))
}

func imageArch(t *testing.T, image string) string {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Architecture}}", image).CombinedOutput()
	if err != nil {
		t.Fatalf("inspect %s: %v %s", image, err, out)
	}
	return strings.TrimSpace(string(out))
}
