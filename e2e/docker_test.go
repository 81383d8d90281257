package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireDocker skips loudly without a Docker engine and compose v2, except in CI,
// where the Docker suites must run.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: Docker suites skipped")
	}
	for _, args := range [][]string{{"version", "--format", "{{.Server.Version}}"}, {"compose", "version"}} {
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+realEnv["DOCKER_CONFIG"])
		if out, err := cmd.CombinedOutput(); err != nil {
			notRun(t, fmt.Sprintf("DOCKER SUITE NOT RUN: docker %s failed: %v: %s", strings.Join(args, " "), err, out))
		}
	}
}

// notRun skips a suite whose machine is missing something, loudly; in CI, where
// .ci/run provides everything, it fails instead.
func notRun(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// stack is one test's machine: a repository, a home, and the compiled targets.
type stack struct {
	t     *testing.T
	work  string
	path  []string // extra PATH entries (fake op)
	extra []string // extra environment, as a user's shell might have it
}

func newStack(t *testing.T) *stack {
	requireDocker(t)
	work := t.TempDir()
	if err := makeRepo(work); err != nil {
		t.Fatal(err)
	}
	return &stack{t: t, work: work}
}

// run runs a target in dir and returns stdout+stderr and the exit code.
func (s *stack) run(dir string, args ...string) (string, int) {
	s.t.Helper()
	cmd := sandboxCmd(s.work, dir, args...)
	if len(s.path) > 0 {
		for i, kv := range cmd.Env {
			if strings.HasPrefix(kv, "PATH=") {
				cmd.Env[i] = "PATH=" + strings.Join(s.path, ":") + ":" + strings.TrimPrefix(kv, "PATH=")
			}
		}
	}
	cmd.Env = append(cmd.Env, s.extra...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := statusOf(s.t, cmd.Run())
	return out.String(), code
}

func (s *stack) must(dir string, args ...string) string {
	s.t.Helper()
	out, code := s.run(dir, args...)
	if code != 0 {
		s.t.Fatalf("%v in %s: exit %d\n%s", args, dir, code, out)
	}
	return out
}

// cleanup removes every container and volume a test's instances left, whatever failed.
func (s *stack) cleanup(projects ...string) {
	s.t.Cleanup(func() {
		for _, p := range projects {
			bounded(s.t, 90*time.Second, "docker", "compose", "--project-name", p, "down", "--volumes", "--remove-orphans", "--timeout", "1")
			// compose without its file may not know the project's volumes: remove by label
			removeLabelled(s.t, p)
		}
	})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func workerCount(t *testing.T, port int) int {
	t.Helper()
	code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/workers", port))
	if code != 200 {
		t.Fatalf("workers on %d: %d %s", port, code, body)
	}
	var w struct{ Workers []json.RawMessage }
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		t.Fatal(err)
	}
	return len(w.Workers)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// The scenario: two sandboxes up side by side on the real engine.
func TestDockerTwoSandboxes(t *testing.T) {
	s := newStack(t)
	s.cleanup("ktrdr--a", "ktrdr--b")
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:initShared", "-minimal")
	if err := os.WriteFile(filepath.Join(s.work, "home", ".ktrdr", "shared", "data", "AAPL_1d.csv"), []byte("a,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.must(repo, "sandbox:create", "a")
	s.must(repo, "sandbox:create", "b")
	a, b := filepath.Join(s.work, "ktrdr--a"), filepath.Join(s.work, "ktrdr--b")

	// Both up at once, while another sandbox is created and destroyed and shared data
	// is initialised: the registry must come out whole.
	var upA bytes.Buffer
	upCmd := sandboxCmd(s.work, a, "sandbox:up", "-noSecrets")
	upCmd.Stdout = &upA
	results := runAll(t, map[string]*exec.Cmd{
		"up a":       upCmd,
		"up b":       sandboxCmd(s.work, b, "sandbox:up", "-noSecrets"),
		"create c":   sandboxCmd(s.work, repo, "sandbox:create", "c"),
		"initShared": sandboxCmd(s.work, repo, "sandbox:initShared", "-minimal"),
	})
	for _, r := range results {
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", r.name, r.code, r.stderr)
		}
	}
	s.must(filepath.Join(s.work, "ktrdr--c"), "sandbox:destroy", "-force")
	reg := readRegistry(t, s.work)
	if len(reg.Instances) != 2 || reg.Instances["ktrdr--a"].Slot != 1 || reg.Instances["ktrdr--b"].Slot != 2 {
		t.Fatalf("registry after the parallel run: %+v", reg)
	}
	out := upA.String()
	for _, want := range []string{"✓ Database ready", "✓ Backend ready", "✓ Workers ready (4 workers registered)", "✓ Jaeger ready", "Startability Gate: PASSED", "http://localhost:28001"} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	for _, port := range []int{28001, 28002} {
		if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/health", port)); code != 200 {
			t.Errorf("health on %d: %d %s", port, code, body)
		}
		if n := workerCount(t, port); n != 4 {
			t.Errorf("%d workers on %d, want 4", n, port)
		}
	}
	if ls := docker(t, "exec", "ktrdr--a-backend-1", "ls", "/app/data"); strings.TrimSpace(ls) != "AAPL_1d.csv" {
		t.Errorf("ls /app/data in the backend: %q", ls)
	}

	// logs and shell reach the running services
	if out := s.must(a, "sandbox:logs", "-service=backend", "-tail=20"); !strings.Contains(out, "backend listening on :8000") {
		t.Errorf("logs:\n%s", out)
	}
	shell := sandboxCmd(s.work, a, "sandbox:shell")
	shell.Stdin = strings.NewReader("ls /app\nexit\n")
	if out, err := shell.CombinedOutput(); err != nil || !strings.Contains(string(out), "strategies") {
		t.Errorf("shell: %v\n%s", err, out)
	}

	// Replacing shared data under running instances names them as needing a restart,
	// and after down/up they see the new data.
	src := filepath.Join(s.work, "newdata")
	if err := os.MkdirAll(filepath.Join(src, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "data", "MSFT_1h.csv"), []byte("m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = s.must(repo, "sandbox:initShared", "-from="+src)
	if !strings.Contains(out, "Restart needed") || !strings.Contains(out, "ktrdr--a ("+a+")") || !strings.Contains(out, "ktrdr--b ("+b+")") {
		t.Errorf("initShared under running instances:\n%s", out)
	}
	s.must(b, "sandbox:down")
	s.must(b, "sandbox:up", "-noSecrets")
	if ls := docker(t, "exec", "ktrdr--b-backend-1", "ls", "/app/data"); strings.TrimSpace(ls) != "MSFT_1h.csv" {
		t.Errorf("after down/up, /app/data holds %q", ls)
	}

	// up again on a running instance: its own ports do not count as busy
	s.must(a, "sandbox:up", "-noSecrets", "-noWait")

	var st struct {
		State    string
		Services []struct{ Label, URL string }
		Workers  []struct{ Label, URL string }
	}
	if err := json.Unmarshal([]byte(s.must(b, "sandbox:status", "-json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.State != "running" || st.Services[0].URL != "http://localhost:28002" || st.Workers[0].URL != "http://localhost:25021" {
		t.Errorf("status of b: %+v", st)
	}
	if out := s.must(repo, "sandbox:list"); !strings.Contains(out, "ktrdr--a  1     running") || !strings.Contains(out, "ktrdr--b  2     running") {
		t.Errorf("list:\n%s", out)
	}

	// gate failure: exit 4 with the reasons
	if out, code := s.run(a, "sandbox:up", "-noSecrets", "-timeout=1ms"); code != 4 || !strings.Contains(out, "startability gate failed") {
		t.Errorf("gate with a 1ms deadline: exit %d\n%s", code, out)
	}

	// down keeps the volume; a foreign listener on a port then blocks up with exit 3
	s.must(a, "sandbox:down")
	if vols := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=ktrdr--a"); !strings.Contains(vols, "ktrdr--a_postgres_data") {
		t.Errorf("down removed the volume: %q", vols)
	}
	if out := s.must(repo, "sandbox:list"); !strings.Contains(out, "ktrdr--a  1     stopped") {
		t.Errorf("list after down:\n%s", out)
	}
	l := listen(t, 28001)
	if out, code := s.run(a, "sandbox:up", "-noSecrets"); code != 3 || !strings.Contains(out, "28001 (KTRDR_API_PORT)") {
		t.Errorf("up with a foreign listener: exit %d\n%s", code, out)
	}
	l.Close()

	// destroy removes containers, volumes and worktree
	s.must(a, "sandbox:destroy", "-force")
	s.must(b, "sandbox:destroy", "-force")
	if left := docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project=ktrdr--b"); strings.TrimSpace(left) != "" {
		t.Errorf("containers left: %s", left)
	}
	if vols := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=ktrdr--a"); strings.TrimSpace(vols) != "" {
		t.Errorf("volumes left: %s", vols)
	}
	for _, d := range []string{a, b} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists", d)
		}
	}
}

// Secrets reach compose's environment and nothing else: not a file, not the output.
func TestDockerSecretsStayOutOfFilesAndOutput(t *testing.T) {
	s := newStack(t)
	s.cleanup("ktrdr--sec", "ktrdr-prod")
	const secret = "Zq7-known-secret-value-41"
	opDir := filepath.Join(s.work, "fakebin")
	if err := os.MkdirAll(opDir, 0o755); err != nil {
		t.Fatal(err)
	}
	item := `{"fields":[{"label":"db_password","type":"CONCEALED","value":"` + secret + `"},{"label":"jwt_secret","type":"CONCEALED","value":"` + secret + `-jwt"}]}`
	if err := os.WriteFile(filepath.Join(opDir, "item.json"), []byte(item), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n# a scripted op: `op item get ITEM --format json`\n[ \"$1 $2\" = \"item get\" ] || exit 2\ncat " + filepath.Join(opDir, "item.json") + "\n"
	if err := os.WriteFile(filepath.Join(opDir, "op"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s.path = []string{opDir}
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:create", "sec")
	dir := filepath.Join(s.work, "ktrdr--sec")
	var all strings.Builder
	out := s.must(dir, "sandbox:up")
	all.WriteString(out)
	if !strings.Contains(out, "Loaded secrets: DB_PASSWORD, JWT_SECRET") {
		t.Errorf("up did not load the secrets:\n%s", out)
	}
	env := docker(t, "inspect", "--format", "{{json .Config.Env}}", "ktrdr--sec-backend-1")
	if !strings.Contains(env, "DB_PASSWORD="+secret) {
		t.Errorf("the backend did not get the secret: %s", env)
	}
	for _, args := range [][]string{{"sandbox:status"}, {"sandbox:status", "-json"}, {"sandbox:list", "-json"}, {"sandbox:logs", "-tail=50"}, {"sandbox:doctor"}} {
		o, _ := s.run(dir, args...)
		all.WriteString(o)
	}
	// local-prod fails without secrets, and its error carries no value either
	s.path = nil
	clone := filepath.Join(s.work, "prod")
	if out, err := exec.Command("git", "clone", "-q", repo, clone).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	s.must(clone, "localProd:init")
	notSignedIn := filepath.Join(s.work, "nosign")
	_ = os.MkdirAll(notSignedIn, 0o755)
	_ = os.WriteFile(filepath.Join(notSignedIn, "op"), []byte("#!/bin/sh\necho '[ERROR] You are not currently signed in.' >&2\nexit 1\n"), 0o755)
	s.path = []string{notSignedIn}
	o, code := s.run(clone, "localProd:up")
	all.WriteString(o)
	if code != 1 || !strings.Contains(o, "not signed in to 1Password") {
		t.Errorf("local-prod up without secrets: exit %d\n%s", code, o)
	}
	s.must(clone, "localProd:destroy", "-force")
	s.must(dir, "sandbox:destroy", "-force")

	if strings.Contains(all.String(), secret) {
		t.Errorf("a secret value appeared in the output")
	}
	for _, root := range []string{filepath.Join(s.work, "home"), filepath.Join(s.work, "repo"), clone} {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(secret)) {
				t.Errorf("secret value written to %s", p)
			}
			return nil
		})
	}
}

// The M6 scenario: local-prod on the standard ports (moved by the suite's offset).
func TestDockerLocalProd(t *testing.T) {
	s := newStack(t)
	s.cleanup("ktrdr-prod")
	clone := filepath.Join(s.work, "prod")
	if out, err := exec.Command("git", "clone", "-q", filepath.Join(s.work, "repo"), clone).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	s.must(clone, "localProd:init")
	// A stray port variable in the caller's shell does not override .env.sandbox.
	s.extra = []string{"KTRDR_API_PORT=1", "COMPOSE_PROJECT_NAME=wrong"}
	out := s.must(s.work, "localProd:up", "-noSecrets")
	s.extra = nil
	if !strings.Contains(out, "Startability Gate: PASSED") || !strings.Contains(out, "KTRDR_ENV=production") {
		t.Errorf("localProd:up:\n%s", out)
	}
	if code, body := get(t, "http://127.0.0.1:28000/api/v1/health"); code != 200 || !strings.Contains(body, "production") {
		t.Errorf("health: %d %s", code, body)
	}
	if n := workerCount(t, 28000); n != 4 {
		t.Errorf("%d workers, want exactly 4", n)
	}
	if st := docker(t, "inspect", "--format", "{{.State.Status}}", "ktrdr-prod-mcp-local-1"); strings.TrimSpace(st) != "running" {
		t.Errorf("mcp-local: %s", st)
	}
	mcp := exec.Command("docker", "exec", "-i", "ktrdr-prod-mcp-local-1", "/demo", "mcp-stdio")
	mcp.Stdin = strings.NewReader("ping\n")
	if b, err := mcp.Output(); err != nil || !strings.Contains(string(b), `"backend_status":200`) {
		t.Errorf("mcp over docker exec -i: %v %s", err, b)
	}
	status := s.must(s.work, "localProd:status")
	for _, want := range []string{"Instance: ktrdr-prod (slot 0)", "Status: running", "mcp-local", "http://localhost:28000", "Worker 4    http://localhost:25006"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if logs := s.must(s.work, "localProd:logs", "-service=backend", "-tail=20"); !strings.Contains(logs, "production mode with the default database password") {
		t.Errorf("localProd:logs:\n%s", logs)
	}
	volume := func() string {
		return strings.TrimSpace(docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=ktrdr-prod"))
	}
	s.must(s.work, "localProd:down")
	if code, _ := get(t, "http://127.0.0.1:28000/api/v1/health"); code != 0 {
		t.Errorf("health answered %d after down", code)
	}
	if volume() == "" {
		t.Error("down removed the database volume")
	}
	s.must(clone, "localProd:up", "-noSecrets", "-noWait")
	s.must(clone, "localProd:down", "-volumes")
	if v := volume(); v != "" {
		t.Errorf("down -volumes kept %s", v)
	}
	s.must(clone, "localProd:up", "-noSecrets", "-noWait")
	out = s.must(s.work, "localProd:destroy", "-force")
	if !strings.Contains(out, "Note: local-prod is at "+clone) || !strings.Contains(out, "Clone directory preserved") {
		t.Errorf("destroy:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(clone, ".env.sandbox")); !os.IsNotExist(err) {
		t.Error(".env.sandbox kept")
	}
	if _, err := os.Stat(filepath.Join(clone, "demo", "main.go")); err != nil {
		t.Error("the clone lost files")
	}
	if vols := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=ktrdr-prod"); strings.TrimSpace(vols) != "" {
		t.Errorf("volumes left: %s", vols)
	}
	data, _ := os.ReadFile(filepath.Join(s.work, "home", ".ktrdr", "sandbox", "instances.json"))
	if !strings.Contains(string(data), `"local_prod": null`) {
		t.Errorf("registry: %s", data)
	}
}

func listen(t *testing.T, port int) io.Closer {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A registry entry lost while its stack runs: list warns about the orphaned compose
// project, gc removes its containers (keeping the volume, which may hold data) and the
// worktree left clean behind it.
func TestDockerOrphansAndGC(t *testing.T) {
	s := newStack(t)
	s.cleanup("ktrdr--o")
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:create", "o")
	dir := filepath.Join(s.work, "ktrdr--o")
	s.must(dir, "sandbox:up", "-noSecrets", "-noWait")
	regPath := filepath.Join(s.work, "home", ".ktrdr", "sandbox", "instances.json")
	if err := os.WriteFile(regPath, []byte(`{"version": 1, "local_prod": null, "instances": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := s.must(repo, "sandbox:list"); !strings.Contains(out, "orphaned compose projects (containers with no registry entry): ktrdr--o") {
		t.Errorf("list:\n%s", out)
	}
	if out, code := s.run(repo, "sandbox:doctor"); code != 1 || !strings.Contains(out, "compose project ktrdr--o: has containers but no registry entry") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}
	out := s.must(repo, "sandbox:gc")
	for _, want := range []string{"removing containers of orphaned compose project ktrdr--o", "kept its volumes", "ktrdr--o_postgres_data", "removing unregistered worktree " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("gc lacks %q:\n%s", want, out)
		}
	}
	if left := docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project=ktrdr--o"); strings.TrimSpace(left) != "" {
		t.Errorf("containers left: %s", left)
	}
	if vols := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=ktrdr--o"); !strings.Contains(vols, "ktrdr--o_postgres_data") {
		t.Errorf("gc removed the volume: %q", vols)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("worktree kept: %v", err)
	}
	if out := s.must(repo, "sandbox:gc"); !strings.Contains(out, "Nothing to clean up") {
		t.Errorf("second gc:\n%s", out)
	}
}

// removeLabelled removes every container and volume labelled as compose project p.
func removeLabelled(t *testing.T, p string) {
	label := "label=com.docker.compose.project=" + p
	for _, kind := range []string{"container", "volume"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		args := []string{kind, "ls", "-q", "--filter", label}
		if kind == "container" {
			args = []string{"ps", "-aq", "--filter", label}
		}
		out, _ := exec.CommandContext(ctx, "docker", args...).Output()
		cancel()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			rm := append([]string{kind, "rm", "-f"}, ids...)
			if kind == "container" {
				rm = append([]string{"rm", "-f"}, ids...)
			}
			bounded(t, 60*time.Second, "docker", rm...)
		}
	}
}
