package e2e

import (
	"bufio"
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

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpSession starts `sandbox sandbox:mcp` in dir as an agent's client would, and connects
// the SDK's own client to it over the process's stdin and stdout.
func mcpSession(t testing.TB, work, dir string, opts *mcp.ClientOptions, args ...string) *mcp.ClientSession {
	t.Helper()
	return mcpSessionOf(t, work, sandboxCmd(work, dir, append([]string{"sandbox:mcp"}, args...)...), opts)
}

// mcpSessionOf connects to the server cmd runs; its stderr goes to work/mcp-stderr.log.
func mcpSessionOf(t testing.TB, work string, cmd *exec.Cmd, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	stderr, err := os.Create(filepath.Join(work, "mcp-stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e"}, opts)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 5 * time.Second}, nil)
	if err != nil {
		log, _ := os.ReadFile(stderr.Name())
		t.Fatalf("connect to sandbox:mcp: %v\nstderr:\n%s", err, log)
	}
	t.Cleanup(func() {
		_ = cs.Close()
		stderr.Close()
		if t.Failed() {
			log, _ := os.ReadFile(stderr.Name())
			t.Logf("sandbox:mcp stderr:\n%s", log)
		}
	})
	return cs
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error %v (a refusal must be a tool error)", name, err)
	}
	return res
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestMCPServesOverStdio: the compiled targets' sandbox:mcp answers initialize and
// tools/list (every input schema a valid JSON Schema of an object), refuses a call
// outside a sandbox with the target's Error and Hint as a tool error, answers an unknown
// tool and arguments of the wrong shape with an error, and keeps serving after each.
func TestMCPServesOverStdio(t *testing.T) {
	work := t.TempDir()
	if err := makeRepo(work); err != nil {
		t.Fatal(err)
	}
	cs := mcpSession(t, work, filepath.Join(work, "repo"), nil)
	if init := cs.InitializeResult(); init == nil || init.ServerInfo.Name != "ktrdr-sandbox" {
		t.Fatalf("initialize result %+v", init)
	}
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools.Tools) != 13 {
		t.Errorf("%d tools, want 13", len(tools.Tools))
	}
	for _, tool := range tools.Tools {
		data, err := json.Marshal(tool.InputSchema)
		if err != nil {
			t.Fatal(err)
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			t.Errorf("%s: input schema %s: %v", tool.Name, data, err)
			continue
		}
		if _, err := s.Resolve(nil); err != nil || s.Type != "object" {
			t.Errorf("%s: input schema %s is not a valid object schema: %v", tool.Name, data, err)
		}
	}
	res := callTool(t, cs, "status", nil)
	if got := resultText(res); !res.IsError || !strings.HasPrefix(got, "Error: ") || !strings.Contains(got, "\nHint: ") || !strings.Contains(got, "go tool mage sandbox:create <name>") {
		t.Errorf("status outside a sandbox: error=%v %q", res.IsError, got)
	}
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "nosuch"}); err == nil {
		t.Error("an unknown tool was answered without an error")
	}
	if res := callTool(t, cs, "exec", map[string]any{"command": "not a list"}); !res.IsError {
		t.Errorf("exec with a string command: %q", resultText(res))
	}
	res = callTool(t, cs, "list", nil)
	if res.IsError || !strings.Contains(resultText(res), "0 instance(s)") {
		t.Errorf("list after the errors: error=%v %q", res.IsError, resultText(res))
	}
}

// TestMCPALineThatIsNotJSONEndsOrIsAnswered: garbage on stdin gets an error answer or a
// clean end of the session, within seconds, never a hang.
func TestMCPALineThatIsNotJSONEndsOrIsAnswered(t *testing.T) {
	work := t.TempDir()
	if err := makeRepo(work); err != nil {
		t.Fatal(err)
	}
	cmd := sandboxCmd(work, filepath.Join(work, "repo"), "sandbox:mcp")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		wg.Wait()
	})
	if _, err := io.WriteString(stdin, "this is not json\n"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		defer wg.Done()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			got <- "EOF: " + err.Error()
			return
		}
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.HasPrefix(line, "EOF") && !strings.Contains(line, `"error"`) {
			t.Errorf("answered %q: neither an error nor the end", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer and no end 20s after a line that is not JSON")
	}
}

// TestDockerMCPCreateUpExecSnapshotDestroy is an agent's session on the real engine:
// create on slot 6, up of the demo stack through its gate (progress heard; the gate's
// checks and the URLs in the result), exec in the backend, snapshot,
// then destroy refused for a wrong confirm and for uncommitted work, and done with both
// arguments; nothing labelled with the sandbox is left.
func TestDockerMCPCreateUpExecSnapshotDestroy(t *testing.T) {
	s := newStack(t)
	const id = "ktrdr--mcp-e2e"
	s.cleanup(id)
	var mu sync.Mutex
	var progress []string
	cs := mcpSession(t, s.work, filepath.Join(s.work, "repo"), &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Message)
			mu.Unlock()
		},
	})
	res := callTool(t, cs, "create", map[string]any{"name": "mcp-e2e", "slot": 6})
	if res.IsError {
		t.Fatalf("create: %s", resultText(res))
	}
	dir := filepath.Join(s.work, id)

	// the demo stack, gate and all: the result carries the gate's checks and the URLs
	up := &mcp.CallToolParams{Name: "up", Arguments: map[string]any{"instance": "mcp-e2e", "noSecrets": true, "timeout": "4m"}}
	up.SetProgressToken("up-1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, up)
	if err != nil || res.IsError {
		t.Fatalf("up: %v %s", err, resultText(res))
	}
	var started struct {
		InstanceID string `json:"instance_id"`
		Waited     bool   `json:"waited"`
		GatePassed bool   `json:"gate_passed"`
		Gate       struct {
			Results []struct {
				Name    string `json:"name"`
				Outcome string `json:"outcome"`
			} `json:"results"`
		} `json:"gate"`
		URLs []struct {
			URL string `json:"url"`
		} `json:"urls"`
	}
	structuredAs(t, res, &started)
	if started.InstanceID != id || !started.Waited || !started.GatePassed || len(started.Gate.Results) == 0 || len(started.URLs) == 0 {
		t.Errorf("up result %+v", started)
	}
	for _, u := range started.URLs {
		if strings.Contains(u.URL, "localhost:28006") { // the API of slot 6 answers at its URL
			if code, _ := get(t, strings.Replace(u.URL, "localhost", "127.0.0.1", 1)+"/api/v1/health"); code != 200 {
				t.Errorf("%s/api/v1/health: %d", u.URL, code)
			}
		}
	}
	mu.Lock()
	heard := len(progress)
	mu.Unlock()
	if heard == 0 {
		t.Error("up sent no progress notification")
	}

	res = callTool(t, cs, "exec", map[string]any{"instance": "mcp-e2e", "command": []string{"ls", "/app"}, "timeoutSeconds": 60})
	var ran struct {
		ExitCode int    `json:"exit_code"`
		Stdout   string `json:"stdout"`
	}
	structuredAs(t, res, &ran)
	if res.IsError || ran.ExitCode != 0 || !strings.Contains(ran.Stdout, "data") {
		t.Errorf("exec ls /app: error=%v %+v %s", res.IsError, ran, resultText(res))
	}

	res = callTool(t, cs, "snapshot", map[string]any{"instance": "mcp-e2e", "name": "base"})
	if res.IsError || !strings.Contains(resultText(res), "Snapshot base of "+id) {
		t.Errorf("snapshot: %s", resultText(res))
	}

	res = callTool(t, cs, "destroy", map[string]any{"instance": "mcp-e2e", "confirm": "mcp-other"})
	if !res.IsError || !strings.Contains(resultText(res), "Nothing was deleted") {
		t.Errorf("destroy with a wrong confirm: %s", resultText(res))
	}
	// work an agent left in the worktree and did not commit
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("todo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = callTool(t, cs, "destroy", map[string]any{"instance": "mcp-e2e", "confirm": "mcp-e2e"})
	if !res.IsError || !strings.Contains(resultText(res), "uncommitted") {
		t.Errorf("destroy of a worktree with uncommitted work: %s", resultText(res))
	}
	res = callTool(t, cs, "destroy", map[string]any{"instance": "mcp-e2e", "confirm": "mcp-e2e", "discardChanges": true})
	if res.IsError {
		t.Fatalf("destroy: %s", resultText(res))
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("worktree still there after destroy: %v", err)
	}
	for _, kind := range [][]string{{"ps", "-a"}, {"volume", "ls"}} {
		args := append(kind, "-q", "--filter", "label=com.docker.compose.project="+id)
		if got := strings.TrimSpace(docker(t, args...)); got != "" {
			t.Errorf("docker %s still lists %q after destroy", strings.Join(kind, " "), got)
		}
	}
}

func structuredAs(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("structured content %s: %v", data, err)
	}
}
