package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The remote test bed (scripts/remote-testbed.sh): a second Docker engine in a network
// namespace, reached over SSH, with this machine's workspace paths hidden from it.
const testbedEngine = "ssh://root@10.200.0.2"

func requireTestbed(t *testing.T) {
	t.Helper()
	requireDocker(t)
	cmd := exec.Command(filepath.Join(repoRoot, "scripts", "remote-testbed.sh"), "status")
	if err := cmd.Run(); err != nil {
		notRun(t, "REMOTE SUITE NOT RUN: the test bed does not answer (sudo scripts/remote-testbed.sh up)")
	}
}

// Sandboxes on a remote engine, end to end on the test bed: create and initShared with
// -engine, up through the tunnel, status, list, logs, shell, sync after a change, down,
// destroy; and the failures: unreachable engine, a bind mount not on the engine, a busy
// remote port, a killed tunnel, an engine gone while instances are registered there.
func TestRemoteEngine(t *testing.T) {
	requireTestbed(t)
	work := t.TempDir()
	home, repo := filepath.Join(work, "home"), filepath.Join(work, "repo")
	example := filepath.Join(repoRoot, "examples", "remote")
	// The project's repository: examples/remote's files, its go.mod pointing at this
	// checkout of the library.
	copyExample(t, example, repo, "docker-compose.sandbox.yml", "demo/Dockerfile", ".gitignore", "go.sum", "site/index.html")
	src := filepath.Join(work, "data")
	writeFile(t, filepath.Join(src, "assets", "a.txt"), []byte("asset one\n"))
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(work, "bin", "remo")
	compile := exec.Command("go", "tool", "mage", "-compile", bin)
	compile.Dir = example
	if out, err := compile.CombinedOutput(); err != nil {
		t.Fatalf("compiling the targets: %v\n%s", err, out)
	}
	tag := make([]byte, 6)
	_, _ = rand.Read(tag)
	image := "remo-demo:e2e-" + hex.EncodeToString(tag)
	environ := projectEnv(home, "REMO_DEMO_IMAGE="+image)
	git := gitRunner(t, environ)
	git(repo, "init", "-q", "-b", "main")
	git(repo, "add", "-A")
	git(repo, "commit", "-q", "-m", "remo")

	remote := func(script string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ssh", "-o", "BatchMode=yes", "root@10.200.0.2", script).CombinedOutput()
		if err != nil {
			t.Logf("on the test bed: %s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		// The tool's tunnels live under this test's home; the engine's leftovers by label.
		_ = exec.Command("pkill", "-f", filepath.Join(home, ".remo")).Run()
		remote(`for p in remo--a remo--b remo--c remo-prod; do docker ps -aq --filter label=com.docker.compose.project=$p | xargs -r docker rm -f; ` +
			`docker network rm ${p}_default; docker volume rm ${p}_db_data; done >/dev/null 2>&1; docker image rm -f ` + image + ` >/dev/null 2>&1; ` +
			`docker ps -aq --filter label=sandbox.snapshot-helper | xargs -r docker rm -f >/dev/null 2>&1; docker image ls -q 'sandbox-helper:*' | xargs -r docker image rm -f >/dev/null 2>&1; ` +
			`docker image prune -f >/dev/null 2>&1; rm -rf ` + filepath.Dir(work) + `; true`)
	})

	var transcript strings.Builder
	run := func(dir string, wantCode int, args ...string) string {
		t.Helper()
		return runBin(t, bin, environ, &transcript, dir, wantCode, args...)
	}
	engineFile := filepath.Join(home, ".remo", "sandbox", "engines.json")
	registryFile := filepath.Join(home, ".remo", "sandbox", "instances.json")

	// An engine that cannot be reached: a clear error within the SSH bound, nothing made.
	start := time.Now()
	out := run(repo, 1, "sandbox:create", "c", "-engine=ssh://root@10.200.0.9")
	if !strings.Contains(out, "Error: engine ssh://root@10.200.0.9 cannot be reached") || time.Since(start) > 20*time.Second {
		t.Errorf("unreachable engine at create (%s):\n%s", time.Since(start), out)
	}
	if _, err := os.Stat(filepath.Join(work, "remo--c")); err == nil {
		t.Error("create on an unreachable engine left a worktree")
	}
	run(repo, 2, "sandbox:create", "c", "-engine=tcp://10.200.0.2:2375")

	out = run(repo, 0, "sandbox:create", "a", "-engine="+testbedEngine)
	wtA := filepath.Join(work, "remo--a")
	if !strings.Contains(out, "http://localhost:37181") {
		t.Errorf("create: %s", out)
	}
	// The engine lives beside the registry: KTRDR's loader rejects unknown instance fields.
	if reg, _ := os.ReadFile(registryFile); bytes.Contains(reg, []byte("ssh://")) {
		t.Errorf("the registry holds engine data:\n%s", reg)
	}
	if eng, _ := os.ReadFile(engineFile); !bytes.Contains(eng, []byte(`"remo--a"`)) || !bytes.Contains(eng, []byte(testbedEngine)) {
		t.Errorf("engines.json:\n%s", eng)
	}

	// A bind mount the engine's host does not have is refused, never mounted empty.
	out = run(wtA, 1, "sandbox:up")
	if !strings.Contains(out, "shared data is missing on engine "+testbedEngine+": web mounts "+filepath.Join(home, ".remo", "shared", "assets")) {
		t.Errorf("up without shared data there:\n%s", out)
	}
	out = run(repo, 0, "sandbox:initShared", "-engine="+testbedEngine, "-from="+src)
	if !strings.Contains(out, "assets/") || !strings.Contains(out, "done") {
		t.Errorf("initShared -engine:\n%s", out)
	}
	if out = run(repo, 0, "sandbox:initShared", "-engine="+testbedEngine, "-from="+src); !strings.Contains(out, "up to date") {
		t.Errorf("initShared -engine again:\n%s", out)
	}

	out = run(wtA, 0, "sandbox:up")
	for _, want := range []string{"Tunnel to " + testbedEngine + " opened", "Synced", "Startability Gate: PASSED", "http://localhost:37181"} {
		if !strings.Contains(out, want) {
			t.Errorf("up: missing %q in\n%s", want, out)
		}
	}
	if code, body := get(t, "http://127.0.0.1:37181/api/v1/health"); code != 200 {
		t.Errorf("health through the tunnel: %d %s", code, body)
	}
	// Instance data on the engine: snapshot (stored here, copied through the tunnel) →
	// change → restore shows the snapshot's rows.
	addRow(t, 37181, "first")
	if out = run(wtA, 0, "sandbox:snapshot", "-name=s1"); !strings.Contains(out, "Snapshot s1") {
		t.Errorf("snapshot on the engine:\n%s", out)
	}
	addRow(t, 37181, "second")
	run(wtA, 0, "sandbox:restore", "-name=s1")
	if got := rows(t, 37181); got != "first" {
		t.Errorf("rows after a restore on the engine: %q, want the snapshot's", got)
	}
	// The containers really run over there, and publish on its loopback only.
	if ps := remote("docker ps --filter label=com.docker.compose.project=remo--a --format '{{.Ports}}'"); !strings.Contains(ps, "127.0.0.1:37181->8000") {
		t.Errorf("containers on the test bed: %q", ps)
	}
	var status struct {
		Engine, State string
		Running       int
	}
	decode(t, run(wtA, 0, "sandbox:status", "-json"), &status)
	if status.Engine != testbedEngine || status.State != "running" || status.Running != 2 {
		t.Errorf("status -json: %+v", status)
	}
	if out = run(wtA, 0, "sandbox:status"); !strings.Contains(out, "Engine: "+testbedEngine) {
		t.Errorf("status:\n%s", out)
	}
	if out = run(wtA, 0, "sandbox:logs", "-service=web"); !strings.Contains(out, "backend listening") {
		t.Errorf("logs:\n%s", out)
	}
	shell := func(dir, line string) string {
		t.Helper()
		cmd := exec.Command(bin, "sandbox:shell")
		cmd.Dir, cmd.Env, cmd.Stdin = dir, environ, strings.NewReader(line+"\nexit\n")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("shell: %v\n%s", err, b)
		}
		return string(b)
	}
	if out = shell(wtA, "ls /app/site /app/assets"); !strings.Contains(out, "index.html") || !strings.Contains(out, "a.txt") {
		t.Errorf("the container does not see the synced files:\n%s", out)
	}
	writeFile(t, filepath.Join(wtA, "site", "changed.html"), []byte("new\n"))
	if out = run(wtA, 0, "sandbox:sync"); !strings.Contains(out, "bind mount(s) satisfied") {
		t.Errorf("sync:\n%s", out)
	}
	if out = shell(wtA, "ls /app/site"); !strings.Contains(out, "changed.html") {
		t.Errorf("after sync the container does not see the change:\n%s", out)
	}
	// A bind mount from outside the checkout and the shared data is refused by name.
	composeFile := filepath.Join(wtA, "docker-compose.sandbox.yml")
	orig, _ := os.ReadFile(composeFile)
	writeFile(t, composeFile, bytes.Replace(orig, []byte("      - ./site:/app/site:ro\n"), []byte("      - ./site:/app/site:ro\n      - /etc/ssl:/app/ssl:ro\n"), 1))
	if out = run(wtA, 1, "sandbox:sync"); !strings.Contains(out, "service web bind-mounts /etc/ssl, which is outside") {
		t.Errorf("a bind mount the engine cannot have:\n%s", out)
	}
	writeFile(t, composeFile, orig)

	// An up refused while the instance runs (here a pre-up hook that fails) leaves its
	// forwards as they were: its localhost URL keeps answering.
	hook := filepath.Join(wtA, ".sandbox", "hooks", "pre-up")
	writeFile(t, hook, []byte("#!/bin/sh\necho not now >&2\nexit 1\n"))
	if err := os.Chmod(hook, 0o755); err != nil {
		t.Fatal(err)
	}
	if out = run(wtA, 1, "sandbox:up"); !strings.Contains(out, "not now") {
		t.Errorf("up with a failing pre-up hook:\n%s", out)
	}
	// a new connection: get's pooled one from before would pass through a dropped forward
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code, body := get(t, "http://127.0.0.1:37181/api/v1/health"); code != 200 {
		t.Errorf("the running instance's URL after a refused up: %d %s", code, body)
	}
	if err := os.RemoveAll(filepath.Join(wtA, ".sandbox")); err != nil {
		t.Fatal(err)
	}

	// A second instance: a listener on the engine's host holding its port → exit 3.
	run(repo, 0, "sandbox:create", "b", "-engine="+testbedEngine)
	wtB := filepath.Join(work, "remo--b")
	pid := strings.TrimSpace(remote("nohup python3 -m http.server 37182 --bind 127.0.0.1 >/dev/null 2>&1 & echo $!; sleep 1"))
	out = run(wtB, 3, "sandbox:up")
	if !strings.Contains(out, "in use on engine "+testbedEngine+": 37182 (REMO_WEB_PORT)") {
		t.Errorf("remote port busy:\n%s", out)
	}
	remote("kill " + pid)
	tunnelPID := func() string {
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(engineFile), "engines", engineKey(t, engineFile), "pid"))
		return strings.TrimSpace(string(b))
	}
	before := tunnelPID()
	out = run(wtB, 0, "sandbox:up")
	if strings.Contains(out, "Tunnel to") || tunnelPID() != before || before == "" {
		t.Errorf("the second instance did not share the tunnel (pid %s → %s):\n%s", before, tunnelPID(), out)
	}
	var list struct {
		Instances []struct {
			State, Engine string
		}
	}
	decode(t, run(repo, 0, "sandbox:list", "-json"), &list)
	if len(list.Instances) != 2 || list.Instances[0].Engine != testbedEngine || list.Instances[1].State != "running" {
		t.Errorf("list -json: %+v", list)
	}

	// The tunnel killed: doctor says so and how to fix it; the next up restarts it.
	_ = exec.Command("kill", before).Run()
	time.Sleep(300 * time.Millisecond)
	out = run(repo, 1, "sandbox:doctor")
	if !strings.Contains(out, "✗ tunnel "+testbedEngine+": down while remo--a, remo--b run") {
		t.Errorf("doctor after the tunnel died:\n%s", out)
	}
	out = run(wtA, 0, "sandbox:up")
	if !strings.Contains(out, "Tunnel to "+testbedEngine+" opened") {
		t.Errorf("up did not restart the tunnel:\n%s", out)
	}
	run(wtB, 0, "sandbox:up") // its forwards too
	for _, port := range []string{"37181", "37182"} {
		if code, _ := get(t, "http://127.0.0.1:"+port+"/api/v1/health"); code != 200 {
			t.Errorf("port %s after the tunnel came back: %d", port, code)
		}
	}

	// The engine gone (its record pointed at a host that does not answer): list and
	// status say unreachable within the bound, destroy deletes nothing.
	saved, _ := os.ReadFile(engineFile)
	if err := os.WriteFile(engineFile, bytes.ReplaceAll(saved, []byte(testbedEngine), []byte("ssh://root@10.200.0.9")), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	decode(t, run(repo, 0, "sandbox:list", "-json"), &list)
	if list.Instances[0].State != "unreachable" || time.Since(start) > 20*time.Second {
		t.Errorf("list with the engine gone (%s): %+v", time.Since(start), list)
	}
	decode(t, run(wtB, 0, "sandbox:status", "-json"), &status)
	if status.State != "unreachable" {
		t.Errorf("status with the engine gone: %+v", status)
	}
	out = run(wtB, 1, "sandbox:destroy", "-force")
	if !strings.Contains(out, "cannot be reached") {
		t.Errorf("destroy with the engine gone:\n%s", out)
	}
	if _, err := os.Stat(wtB); err != nil {
		t.Error("destroy deleted the worktree of an instance it could not confirm")
	}
	if reg, _ := os.ReadFile(registryFile); !bytes.Contains(reg, []byte("remo--b")) {
		t.Error("destroy dropped the entry of an instance it could not confirm")
	}
	if err := os.WriteFile(engineFile, saved, 0o644); err != nil {
		t.Fatal(err)
	}

	// Down keeps the tunnel while another instance runs there, and closes it after the
	// last; destroy removes the containers, volume and mirror over there.
	if out = run(wtA, 0, "sandbox:down"); strings.Contains(out, "closed") {
		t.Errorf("down closed the tunnel while remo--b runs:\n%s", out)
	}
	if out = run(wtB, 0, "sandbox:down"); !strings.Contains(out, "Tunnel to "+testbedEngine+" closed") {
		t.Errorf("the last down did not close the tunnel:\n%s", out)
	}
	run(wtA, 0, "sandbox:destroy", "-force", "-discardChanges")
	run(wtB, 0, "sandbox:destroy", "-force")
	if left := remote("docker ps -aq --filter label=com.docker.compose.project=remo--a; docker volume ls -q | grep remo--; ls " + wtA + " 2>/dev/null"); strings.TrimSpace(left) != "" {
		t.Errorf("left on the engine: %q", left)
	}
	if eng, _ := os.ReadFile(engineFile); bytes.Contains(eng, []byte("remo--")) {
		t.Errorf("engines.json still names destroyed instances:\n%s", eng)
	}

	// gc and a stale entry on a remote engine (its directory deleted by hand): while the
	// engine does not answer, the entry is kept (its containers cannot be confirmed gone);
	// once it answers, the containers there go with the entry.
	// (seeded from remo--a's snapshot, which outlived remo--a)
	run(repo, 0, "sandbox:create", "c", "-engine="+testbedEngine, "-seed=remo--a:s1")
	wtC := filepath.Join(work, "remo--c")
	run(wtC, 0, "sandbox:up")
	if got := rows(t, 37181); got != "first" {
		t.Errorf("rows of a sandbox seeded on the engine: %q", got)
	}
	if err := os.RemoveAll(wtC); err != nil {
		t.Fatal(err)
	}
	saved, _ = os.ReadFile(engineFile)
	if err := os.WriteFile(engineFile, bytes.ReplaceAll(saved, []byte(testbedEngine), []byte("ssh://root@10.200.0.9")), 0o644); err != nil {
		t.Fatal(err)
	}
	out = run(repo, 0, "sandbox:gc")
	if !strings.Contains(out, "keeping stale registry entry remo--c") {
		t.Errorf("gc with the engine gone:\n%s", out)
	}
	if reg, _ := os.ReadFile(registryFile); !bytes.Contains(reg, []byte("remo--c")) {
		t.Error("gc dropped an entry whose containers it could not confirm gone")
	}
	if err := os.WriteFile(engineFile, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	out = run(repo, 0, "sandbox:gc")
	if !strings.Contains(out, "removing stale registry entry remo--c") {
		t.Errorf("gc with the engine back:\n%s", out)
	}
	if left := remote("docker ps -aq --filter label=com.docker.compose.project=remo--c"); strings.TrimSpace(left) != "" {
		t.Errorf("gc left remo--c's containers on the engine: %q", left)
	}
	remote("docker volume rm remo--c_db_data >/dev/null 2>&1; docker network rm remo--c_default >/dev/null 2>&1")

	// local-prod on the engine: from a clone, on the standard ports (shifted by the
	// suites' offset); destroy keeps a snapshot of its volumes, copied here.
	prod := filepath.Join(work, "prod")
	git(work, "clone", "-q", repo, prod)
	run(prod, 0, "localProd:init", "-engine="+testbedEngine)
	out = run(work, 0, "localProd:up", "-noSecrets")
	if !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("localProd:up on the engine:\n%s", out)
	}
	if code, _ := get(t, "http://127.0.0.1:27180/api/v1/health"); code != 200 {
		t.Errorf("local-prod health through the tunnel: %d", code)
	}
	decode(t, run(work, 0, "localProd:status", "-json"), &status)
	if status.Engine != testbedEngine || status.State != "running" {
		t.Errorf("localProd:status -json: %+v", status)
	}
	if out = run(work, 0, "localProd:destroy", "-force"); !strings.Contains(out, "Snapshot before-destroy-") {
		t.Errorf("localProd:destroy on a remote engine kept no snapshot:\n%s", out)
	}
	if left := remote("docker ps -aq --filter label=com.docker.compose.project=remo-prod; docker volume ls -q | grep remo-prod"); strings.TrimSpace(left) != "" {
		t.Errorf("localProd:destroy left on the engine: %q", left)
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", transcript.String())
	}
}

// engineKey is the state directory name of the one engine in engines.json.
func engineKey(t *testing.T, engineFile string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(engineFile), "engines", "*"))
	if len(dirs) != 1 {
		t.Fatalf("tunnel directories: %v", dirs)
	}
	return filepath.Base(dirs[0])
}

// runBin runs a compiled targets binary, records it, and checks its exit code.
func runBin(t *testing.T, bin string, environ []string, transcript *strings.Builder, dir string, wantCode int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, environ
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := statusOf(t, cmd.Run())
	transcript.WriteString("$ " + filepath.Base(bin) + " " + strings.Join(args, " ") + "\n" + out.String())
	if wantCode >= 0 && code != wantCode {
		t.Fatalf("%s %v in %s: exit %d, want %d\n%s", filepath.Base(bin), args, dir, code, wantCode, out.String())
	}
	return out.String()
}

// statusOf is a finished command's exit status; a command that could not run fails the test.
func statusOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}
