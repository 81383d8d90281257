package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The library proved by a second project: examples/consumer (config.New("acme"), its own
// compose file, two slots, an HTTP gate, no secrets, no workers) in a repository of its
// own, driven through its own compiled targets on the real engine. Nothing it prints or
// writes says ktrdr, and its state lives under ~/.acme.
func TestConsumerAcme(t *testing.T) {
	requireDocker(t)
	example := filepath.Join(repoRoot, "examples", "consumer")
	work := t.TempDir()
	bin := filepath.Join(work, "bin", "acme")
	compile := exec.Command("go", "tool", "mage", "-compile", bin)
	compile.Dir = example
	if out, err := compile.CombinedOutput(); err != nil {
		t.Fatalf("compiling the consumer's targets: %v\n%s", err, out)
	}

	// The consumer's repository: its files as a user would have them, its go.mod pointing
	// at this checkout of the library.
	home, repo := filepath.Join(work, "home"), filepath.Join(work, "repo")
	copyExample(t, example, repo, "docker-compose.sandbox.yml", "demo/Dockerfile", ".gitignore", "go.sum")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	tag := make([]byte, 6)
	_, _ = rand.Read(tag)
	image := "acme-demo:e2e-" + hex.EncodeToString(tag)
	environ := projectEnv(home, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "ACME_DEMO_IMAGE="+image)
	git := gitRunner(t, environ)
	git(repo, "init", "-q", "-b", "main")
	git(repo, "add", "-A")
	git(repo, "commit", "-q", "-m", "acme")
	prod := filepath.Join(work, "prod")
	git(work, "clone", "-q", repo, prod)

	t.Cleanup(func() {
		for _, p := range []string{"acme--a", "acme-prod"} {
			bounded(t, 90*time.Second, "docker", "compose", "--project-name", p, "down", "--volumes", "--remove-orphans", "--timeout", "1")
			removeLabelled(t, p)
		}
		bounded(t, 30*time.Second, "docker", "image", "rm", "-f", image)
	})

	var transcript strings.Builder
	run := func(dir string, wantCode int, args ...string) string {
		t.Helper()
		return runBin(t, bin, environ, &transcript, dir, wantCode, args...)
	}

	out := run(repo, 0, "sandbox:create", "a")
	wt := filepath.Join(work, "acme--a")
	for _, want := range []string{"Created instance: acme--a", "Port slot: 1", "Web:", "http://localhost:37081", "Next: cd " + wt + " && go tool mage sandbox:up"} {
		if !strings.Contains(out, want) {
			t.Errorf("create: missing %q in\n%s", want, out)
		}
	}
	out = run(wt, 0, "sandbox:up")
	for _, want := range []string{"✓ Database ready", "✓ Web ready", "Startability Gate: PASSED", "http://localhost:37081"} {
		if !strings.Contains(out, want) {
			t.Errorf("up: missing %q in\n%s", want, out)
		}
	}
	if code, body := get(t, "http://127.0.0.1:37081/api/v1/health"); code != 200 {
		t.Errorf("web health: %d %s", code, body)
	}

	var status struct {
		Kind           string
		InstanceID     string `json:"instance_id"`
		State          string
		Running, Total int
		Services       []struct{ Env, URL string }
		Workers        []json.RawMessage
	}
	decode(t, run(wt, 0, "sandbox:status", "-json"), &status)
	if status.State != "running" || status.Running != 2 || status.Total != 2 || len(status.Workers) != 0 ||
		len(status.Services) == 0 || status.Services[0].URL != "http://localhost:37081" {
		t.Errorf("status -json: %+v", status)
	}
	out = run(wt, 0, "sandbox:status")
	if strings.Contains(out, "Workers:") || strings.Contains(out, "Shared Data:") {
		t.Errorf("status shows sections acme has no use for:\n%s", out)
	}
	var list struct {
		Instances []struct {
			InstanceID string `json:"instance_id"`
			State      string
			APIPort    int `json:"api_port"`
		}
	}
	decode(t, run(repo, 0, "sandbox:list", "-json"), &list)
	if len(list.Instances) != 1 || list.Instances[0].InstanceID != "acme--a" || list.Instances[0].State != "running" || list.Instances[0].APIPort != 37081 {
		t.Errorf("list -json: %+v", list)
	}
	run(wt, 0, "sandbox:logs", "-tail=5")
	run(wt, 0, "sandbox:down")
	out = run(wt, 0, "sandbox:destroy", "-force")
	if !strings.Contains(out, "Sandbox acme--a destroyed") || exists(wt) {
		t.Errorf("destroy:\n%s", out)
	}

	run(prod, 0, "localProd:init")
	out = run(prod, 0, "localProd:up")
	if !strings.Contains(out, "Startability Gate: PASSED") || !strings.Contains(out, "http://localhost:27080") {
		t.Errorf("localProd:up:\n%s", out)
	}
	decode(t, run(work, 0, "localProd:status", "-json"), &status)
	if status.Kind != "local-prod" || status.InstanceID != "acme-prod" || status.State != "running" {
		t.Errorf("localProd:status -json: %+v", status)
	}
	run(work, 0, "localProd:destroy", "-force")
	if !exists(filepath.Join(prod, "docker-compose.sandbox.yml")) || exists(filepath.Join(prod, ".env.sandbox")) {
		t.Errorf("local-prod destroy must keep the clone and remove only its env file")
	}
	run(repo, -1, "sandbox:doctor") // it may find this machine's other tests' ports busy

	if strings.Contains(strings.ToLower(transcript.String()), "ktrdr") {
		t.Errorf("the consumer's output says ktrdr:\n%s", transcript.String())
	}
	// Everything the tool wrote under HOME lives in ~/.acme and says nothing of ktrdr.
	err := filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(home, path)
		if rel == "." || rel == ".gitconfig" {
			return nil
		}
		if rel == ".config" {
			return fs.SkipDir // the go command's own settings (telemetry), from the prepare step
		}
		if rel != ".acme" && !strings.HasPrefix(rel, ".acme"+string(filepath.Separator)) {
			t.Errorf("written outside ~/.acme: %s", rel)
			return fs.SkipDir
		}
		if strings.Contains(strings.ToLower(rel), "ktrdr") {
			t.Errorf("path says ktrdr: %s", rel)
		}
		if d.Type().IsRegular() {
			if b, _ := os.ReadFile(path); bytes.Contains(bytes.ToLower(b), []byte("ktrdr")) {
				t.Errorf("%s says ktrdr:\n%s", rel, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(home, ".acme", "sandbox", "instances.json")) {
		t.Errorf("no registry at ~/.acme/sandbox/instances.json")
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
}

// bounded runs a cleanup command that must not hang a test run on a wedged engine.
func bounded(t *testing.T, limit time.Duration, name string, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil && ctx.Err() != nil {
		t.Logf("cleanup %s %v did not finish in %s: %s", name, args, limit, out)
	}
}

// projectEnv is the environment a consumer project's compiled targets run with in the
// suites: HOME in the test's directory, git's identity, the suites' port offset, the
// real Docker and Go settings, then extra.
func projectEnv(home string, extra ...string) []string {
	environ := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"SANDBOX_PORT_OFFSET=20000", "GOFLAGS=-mod=mod",
	}
	for k, v := range realEnv {
		environ = append(environ, k+"="+v)
	}
	return append(environ, extra...) // later entries win
}

// gitRunner runs git in a directory with environ, failing the test when git fails.
func gitRunner(t *testing.T, environ []string) func(dir string, args ...string) {
	return func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, environ
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// copyExample puts an example project's files into repo as a user would have them, with
// its go.mod's replace directive pointing at this checkout of the library.
func copyExample(t *testing.T, example, repo string, files ...string) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(example, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, f), data)
	}
	mod, err := os.ReadFile(filepath.Join(example, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "go.mod"), bytes.ReplaceAll(mod, []byte("=> ../.."), []byte("=> "+repoRoot)))
}
