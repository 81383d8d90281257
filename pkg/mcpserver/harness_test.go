package mcpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/mcpserver"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/secrets"
	"github.com/ktrdr/sandbox/pkg/snapshot"
	"github.com/ktrdr/sandbox/pkg/stats"
	"github.com/ktrdr/sandbox/pkg/targets"
)

// fakeDocker is the engine as these tests need it: the embedded nil interface makes a
// call no test expected panic, so a tool that starts asking Docker something new is seen.
type fakeDocker struct {
	core.Docker
	mu       sync.Mutex
	execOut  string // written to stdout by Exec
	execErr  string // written to stderr by Exec
	execCode int    // Exec's exit status
	execHang bool   // Exec blocks until its context ends
	execCmd  []string
	running  []compose.Container // what Containers lists
	logs     string
	execDone chan struct{} // closed when a hanging Exec saw its context end
	execRuns chan struct{} // closed when a hanging Exec starts waiting
	teardown chan struct{} // when set, Teardown waits for it to close
	tearing  chan struct{} // closed when Teardown starts waiting
}

func (d *fakeDocker) Versions(context.Context) (string, string, error) {
	return "20.10.0", "2.20.0", nil
}
func (d *fakeDocker) ProjectStates(context.Context, string) (map[string]compose.Counts, error) {
	return map[string]compose.Counts{}, nil
}
func (d *fakeDocker) Containers(context.Context, string, string) ([]compose.Container, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running, nil
}
func (d *fakeDocker) Engine(context.Context) (platform.Engine, error) {
	return platform.Engine{}, nil
}
func (d *fakeDocker) Exec(ctx context.Context, _ compose.Project, _ string, cmd []string, _ bool, _ io.Reader, out, errw io.Writer) error {
	d.mu.Lock()
	d.execCmd = cmd
	d.mu.Unlock()
	_, _ = io.WriteString(out, d.execOut)
	_, _ = io.WriteString(errw, d.execErr)
	if d.execHang {
		if d.execRuns != nil {
			close(d.execRuns)
		}
		<-ctx.Done()
		if d.execDone != nil {
			close(d.execDone)
		}
		return ctx.Err()
	}
	if d.execCode != 0 {
		return &execx.ExitError{Cmd: "docker compose exec", Code: d.execCode}
	}
	return nil
}
func (d *fakeDocker) Logs(_ context.Context, _ compose.Project, _ string, _ bool, _ int, out, _ io.Writer) error {
	_, err := io.WriteString(out, d.logs)
	return err
}

type noSecrets struct{}

func (noSecrets) Fetch(context.Context, string, []config.SecretField) (secrets.Values, error) {
	return secrets.Values{}, nil
}

// harness is a repository, a server scoped to it over fakes, and a client connected to
// the server in memory.
type harness struct {
	t       *testing.T
	repo    string
	home    string
	cfg     config.Config
	docker  *fakeDocker
	env     func(dir string) (*core.Env, error)
	client  *mcp.ClientSession
	mu      sync.Mutex
	changed chan struct{} // a resource list-changed notification arrived
	steps   []string      // progress messages received
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func newHarness(t *testing.T, allowLocalProd bool) *harness {
	t.Helper()
	backend := compose.Container{Name: "backend-1", Service: "backend", State: "running"}
	h := &harness{t: t, home: t.TempDir(), cfg: config.KTRDR(), docker: &fakeDocker{running: []compose.Container{backend}}, changed: make(chan struct{}, 1)}
	h.repo = filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(h.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.repo, h.cfg.ComposeFile), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, h.repo, "init", "-q")
	git(t, h.repo, "add", ".")
	git(t, h.repo, "commit", "-qm", "init")
	vars := append(os.Environ(), "HOME="+h.home)
	h.env = func(dir string) (*core.Env, error) {
		return core.New(core.Env{Config: h.cfg, Home: h.home, Cwd: dir, Vars: vars, Docker: h.docker,
			Git: gitx.Git{Env: vars}, Secrets: noSecrets{}, LockWait: time.Second})
	}
	h.client = h.serve(h.repo, allowLocalProd)
	return h
}

// serve starts a server at dir over the harness's fakes and connects a client to it.
func (h *harness) serve(dir string, allowLocalProd bool) *mcp.ClientSession {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := mcpserver.New(ctx, mcpserver.Options{Env: h.env, Dir: dir, Spell: targets.Invocation.Spell, AllowLocalProd: allowLocalProd, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	go func() { _ = srv.Run(ctx, st) }()
	client := mcp.NewClient(&mcp.Implementation{Name: "test"}, &mcp.ClientOptions{
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) {
			select {
			case h.changed <- struct{}{}:
			default:
			}
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			h.mu.Lock()
			h.steps = append(h.steps, req.Params.Message)
			h.mu.Unlock()
		},
	})
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// call calls a tool and fails the test on a protocol error.
func (h *harness) call(name string, args map[string]any) *mcp.CallToolResult {
	h.t.Helper()
	res, err := h.client.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		h.t.Fatalf("%s: protocol error %v (a refusal must be a tool error)", name, err)
	}
	return res
}

// callWithProgress calls a tool asking for progress notifications.
func (h *harness) callWithProgress(name string, args map[string]any) *mcp.CallToolResult {
	h.t.Helper()
	p := &mcp.CallToolParams{Name: name, Arguments: args}
	p.SetProgressToken("tok-" + name)
	res, err := h.client.CallTool(context.Background(), p)
	if err != nil {
		h.t.Fatalf("%s: protocol error %v", name, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// structured decodes a result's structured content into v.
func structured(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("structured content %s: %v", data, err)
	}
}

// mustSucceed fails the test unless res is a success.
func mustSucceed(t *testing.T, name string, res *mcp.CallToolResult) {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s refused: %s", name, text(res))
	}
}

// mustRefuse fails the test unless res is a tool error whose text has each of want.
func mustRefuse(t *testing.T, name string, res *mcp.CallToolResult, want ...string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("%s succeeded, want a refusal: %s", name, text(res))
	}
	got := text(res)
	if !strings.HasPrefix(got, "Error: ") {
		t.Errorf("%s: refusal %q does not start with Error:", name, got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: refusal %q lacks %q", name, got, w)
		}
	}
}

func (d *fakeDocker) Usage(context.Context, string) (map[string]stats.Usage, error) {
	return map[string]stats.Usage{}, nil
}
func (d *fakeDocker) VolumesOf(context.Context, string) ([]string, error) { return nil, nil }
func (d *fakeDocker) Published(context.Context, string, string) (map[int]bool, error) {
	return map[int]bool{}, nil
}
func (d *fakeDocker) AddressRoom(context.Context) (int, int, error) { return 30, 31, nil }
func (d *fakeDocker) EngineDisk(context.Context) (int64, int64, error) {
	return 100 << 30, 50 << 30, nil
}
func (d *fakeDocker) Sees(context.Context, string) error { return nil }
func (d *fakeDocker) Responsive(context.Context, string, time.Duration) error {
	return nil
}
func (d *fakeDocker) Labelled(context.Context, string, string) (compose.Labelled, error) {
	return compose.Labelled{}, nil
}
func (d *fakeDocker) Teardown(context.Context, compose.Project, string, io.Writer, io.Writer) error {
	if d.teardown != nil {
		close(d.tearing)
		<-d.teardown
	}
	return nil
}
func (d *fakeDocker) Images(context.Context, string) ([]compose.LabelledImage, error) {
	return nil, nil
}

// testLog sends the server's log to the test's, seen when a test fails.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// fakeVolumes: the instances of these tests have no volumes.
type fakeVolumes struct{ core.Volumes }

func (fakeVolumes) Of(context.Context, string) ([]snapshot.Volume, error) { return nil, nil }

func (d *fakeDocker) Volumes() core.Volumes { return fakeVolumes{} }
