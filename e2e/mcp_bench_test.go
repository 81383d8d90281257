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
