package e2e

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// statusBed is a repository with one sandbox (slot 7, never started) and its directory.
func statusBed(tb testing.TB) (work, dir string) {
	tb.Helper()
	work = tb.TempDir()
	if err := makeRepo(work); err != nil {
		tb.Fatal(err)
	}
	cmd := sandboxCmd(work, filepath.Join(work, "repo"), "sandbox:create", "mcp-bench", "-slot=7")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("create: %v\n%s", err, out)
	}
	return work, filepath.Join(work, "ktrdr--mcp-bench")
}

// TestMCPTwentyStatusCallsFromTwoClientsAllAnswer: two agents, each with its own server
// in the same sandbox, ask for status ten times each at once; every call answers with
// the sandbox's status.
func TestMCPTwentyStatusCallsFromTwoClientsAllAnswer(t *testing.T) {
	requireDocker(t)
	work, dir := statusBed(t)
	clients := []*mcp.ClientSession{mcpSession(t, work, dir, nil), mcpSession(t, work, dir, nil)}
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	started := time.Now()
	for _, cs := range clients {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "status"})
				switch {
				case err != nil:
					errs <- err.Error()
				case res.IsError:
					errs <- resultText(res)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a status call failed: %s", e)
	}
	t.Logf("20 status calls through two servers answered in %s", time.Since(started).Round(time.Millisecond))
}

// BenchmarkStatusThroughMCP is one status round trip through a running server.
func BenchmarkStatusThroughMCP(b *testing.B) {
	work, dir := statusBed(b)
	cs := mcpSession(b, work, dir, nil)
	b.ResetTimer()
	for b.Loop() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "status"})
		if err != nil || res.IsError {
			b.Fatalf("status: %v %v", err, res)
		}
	}
}

// BenchmarkStatusTarget is `sandbox:status -json` from the compiled targets: a lower
// bound of `go tool mage sandbox:status -json`, which also checks Mage's build cache.
func BenchmarkStatusTarget(b *testing.B) {
	work, dir := statusBed(b)
	b.ResetTimer()
	for b.Loop() {
		if out, err := sandboxCmd(work, dir, "sandbox:status", "-json").CombinedOutput(); err != nil {
			b.Fatalf("status: %v\n%s", err, out)
		}
	}
}

// TestMCPTwoAgentsCreateTwoSandboxesAtOnce: two servers in one repository, each asked to
// create a sandbox at the same moment; the registry's lock lets both succeed, on their
// own slots.
func TestMCPTwoAgentsCreateTwoSandboxesAtOnce(t *testing.T) {
	work := t.TempDir()
	if err := makeRepo(work); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(work, "repo")
	agents := map[string]*mcp.ClientSession{"mcp-a": mcpSession(t, work, repo, nil), "mcp-b": mcpSession(t, work, repo, nil)}
	slots := map[string]int{"mcp-a": 6, "mcp-b": 7}
	var wg sync.WaitGroup
	for name, cs := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create", Arguments: map[string]any{"name": name, "slot": slots[name]}})
			switch {
			case err != nil:
				t.Errorf("create %s: %v", name, err)
			case res.IsError:
				t.Errorf("create %s: %s", name, resultText(res))
			}
		}()
	}
	wg.Wait()
	var listing struct {
		Instances []struct {
			InstanceID string `json:"instance_id"`
			Slot       int    `json:"slot"`
		} `json:"instances"`
	}
	structuredAs(t, callTool(t, agents["mcp-a"], "list", nil), &listing)
	got := map[string]int{}
	for _, in := range listing.Instances {
		got[in.InstanceID] = in.Slot
	}
	if got["ktrdr--mcp-a"] != 6 || got["ktrdr--mcp-b"] != 7 || len(got) != 2 {
		t.Errorf("registered after two creates at once: %v", got)
	}
}
