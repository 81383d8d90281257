package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
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
func mcpSession(t *testing.T, work, dir string, opts *mcp.ClientOptions, args ...string) *mcp.ClientSession {
	t.Helper()
	cmd := sandboxCmd(work, dir, append([]string{"sandbox:mcp"}, args...)...)
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
	if len(tools.Tools) != 12 {
		t.Errorf("%d tools, want 12", len(tools.Tools))
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
