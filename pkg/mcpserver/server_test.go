package mcpserver_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/mcpserver"
	"github.com/ktrdr/sandbox/pkg/registry"
)

func TestEveryToolIsListedWithAnObjectInputSchema(t *testing.T) {
	h := newHarness(t, false)
	res, err := h.client.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		schema, ok := tool.InputSchema.(map[string]any)
		if !ok || schema["type"] != "object" {
			t.Errorf("%s: input schema %v is not an object schema", tool.Name, tool.InputSchema)
		}
		if tool.Description == "" {
			t.Errorf("%s has no description", tool.Name)
		}
	}
	slices.Sort(names)
	want := []string{"create", "destroy", "doctor", "down", "exec", "initShared", "list", "logs", "restore", "snapshot", "snapshots", "status", "up"}
	if !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}
}

func TestStatusOutsideASandboxIsAToolErrorWithTheTargetsHint(t *testing.T) {
	h := newHarness(t, false)
	res := h.call("status", nil)
	// The same words sandbox:status prints under Mage's Error: line.
	mustRefuse(t, "status", res, "\nHint: ", "go tool mage sandbox:create <name>")
	// and the server still serves
	mustSucceed(t, "list", h.call("list", nil))
}

func TestAnUnknownToolOrArgumentsOfTheWrongShapeLeaveTheServerServing(t *testing.T) {
	h := newHarness(t, false)
	if _, err := h.client.CallTool(context.Background(), &mcp.CallToolParams{Name: "nosuch"}); err == nil {
		t.Error("an unknown tool was answered without an error")
	}
	// The SDK checks arguments against the input schema before a tool sees them.
	for tool, args := range map[string]map[string]any{
		"create": {"name": 7}, "exec": {"command": "ls -l"}, "status": {"instnace": "x"},
	} {
		if res := h.call(tool, args); !res.IsError || !strings.Contains(text(res), "validating") {
			t.Errorf("%s %v: got %q, want a validation error", tool, args, text(res))
		}
	}
	mustSucceed(t, "list", h.call("list", nil))
}

func TestCreateMakesASandboxItsResourceAndProgress(t *testing.T) {
	h := newHarness(t, false)
	res := h.callWithProgress("create", map[string]any{"name": "feat-x", "slot": 3})
	mustSucceed(t, "create", res)
	var c mcpserver.Created
	structured(t, res, &c)
	if c.InstanceID != "ktrdr--feat-x" || c.Slot != 3 || c.Name != "feat-x" || len(c.URLs) == 0 {
		t.Fatalf("created %+v", c)
	}
	if _, err := os.Stat(filepath.Join(c.Path, h.cfg.EnvFile)); err != nil {
		t.Fatalf("no env file in the new worktree: %v", err)
	}
	// the resource of the new sandbox is listed and readable, without secrets
	list, err := h.client.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	uri := "sandbox://ktrdr--feat-x"
	if !slices.ContainsFunc(list.Resources, func(r *mcp.Resource) bool { return r.URI == uri }) {
		t.Fatalf("resources %v lack %s", list.Resources, uri)
	}
	read, err := h.client.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatal(err)
	}
	body := read.Contents[0].Text
	if !strings.Contains(body, `"INSTANCE_ID": "ktrdr--feat-x"`) || !strings.Contains(body, `"services"`) {
		t.Errorf("resource %s", body)
	}
	h.mu.Lock()
	steps := len(h.steps)
	h.mu.Unlock()
	if steps == 0 {
		t.Error("create sent no progress notification")
	}
	// a status by name reaches it from the repository the server started in
	mustSucceed(t, "status", h.call("status", map[string]any{"instance": "feat-x"}))
}

func TestDestroyNeedsConfirmAndRefusesUncommittedWork(t *testing.T) {
	h := newHarness(t, false)
	var c mcpserver.Created
	res := h.call("create", map[string]any{"name": "feat-y", "slot": 4})
	mustSucceed(t, "create", res)
	structured(t, res, &c)

	mustRefuse(t, "destroy", h.call("destroy", map[string]any{"instance": "feat-y", "confirm": "feat-z"}),
		"Nothing was deleted", `confirm set to "feat-y"`)
	if res := h.call("destroy", map[string]any{"instance": "feat-y"}); !res.IsError || !strings.Contains(text(res), "confirm") {
		t.Errorf("destroy without confirm: %q", text(res))
	}
	if err := os.WriteFile(filepath.Join(c.Path, "work.txt"), []byte("unsaved"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, "destroy", h.call("destroy", map[string]any{"instance": "feat-y", "confirm": "feat-y"}),
		"uncommitted", "go tool mage sandbox:destroy -discardChanges")
	if _, err := os.Stat(filepath.Join(c.Path, "work.txt")); err != nil {
		t.Fatalf("a refused destroy lost work: %v", err)
	}
	// the second explicit argument
	res = h.call("destroy", map[string]any{"instance": "feat-y", "confirm": "feat-y", "discardChanges": true})
	mustSucceed(t, "destroy", res)
	var d mcpserver.Destroyed
	structured(t, res, &d)
	if !d.WorktreeRemoved || d.InstanceID != "ktrdr--feat-y" {
		t.Fatalf("destroyed %+v", d)
	}
	if _, err := os.Stat(c.Path); !os.IsNotExist(err) {
		t.Fatalf("worktree still there: %v", err)
	}
	list, err := h.client.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Resources) != 0 {
		t.Errorf("resources after destroy: %v", list.Resources)
	}
	select {
	case <-h.changed: // the SDK sends it a few milliseconds after the change
	case <-time.After(5 * time.Second):
		t.Error("no resource list-changed notification as the sandbox came and went")
	}
}

func TestLocalProdIsReadOnlyWithoutAllowLocalProd(t *testing.T) {
	h := newHarness(t, false)
	for tool, args := range map[string]map[string]any{
		"up": {}, "down": {}, "exec": {"command": []string{"true"}}, "snapshot": {},
		"restore": {"name": "x"}, "destroy": {"confirm": "local-prod"},
	} {
		args["instance"] = "local-prod"
		mustRefuse(t, tool, h.call(tool, args), "may not change local-prod", "go tool mage sandbox:mcp -allowLocalProd")
	}
	// reading is allowed: the refusal is the core's (nothing registered), not the server's
	res := h.call("status", map[string]any{"instance": "local-prod"})
	mustRefuse(t, "status", res, "no local-prod instance is registered")
}

func TestLocalProdChangesReachTheCoreWithAllowLocalProd(t *testing.T) {
	h := newHarness(t, true)
	mustRefuse(t, "up", h.call("up", map[string]any{"instance": "local-prod"}), "no local-prod instance is registered", "localProd:init")
}

func TestExecReturnsTheExitCodeAndTheEndOfItsOutput(t *testing.T) {
	h := newHarness(t, false)
	mustSucceed(t, "create", h.call("create", map[string]any{"name": "feat-e", "slot": 5}))
	h.docker.execOut = strings.Repeat("x", 500) + "THE END\n"
	h.docker.execErr = "FAIL: TestSomething\n"
	h.docker.execCode = 3
	res := h.call("exec", map[string]any{"instance": "feat-e", "service": "backend", "command": []string{"go", "test", "./..."}, "maxOutputBytes": 100})
	mustSucceed(t, "exec", res)
	var out mcpserver.Executed
	structured(t, res, &out)
	if out.ExitCode != 3 || !out.Truncated || len(out.Stdout) != 100 || !strings.HasSuffix(out.Stdout, "THE END\n") || out.Stderr != "FAIL: TestSomething\n" {
		t.Fatalf("exec result %+v", out)
	}
	if !slices.Equal(h.docker.execCmd, []string{"go", "test", "./..."}) {
		t.Errorf("ran %v", h.docker.execCmd)
	}
}

func TestExecThatOutlivesItsTimeoutIsRefusedWithWhatItPrinted(t *testing.T) {
	h := newHarness(t, false)
	mustSucceed(t, "create", h.call("create", map[string]any{"name": "feat-t", "slot": 5}))
	h.docker.execHang, h.docker.execOut = true, "started\n"
	res := h.call("exec", map[string]any{"instance": "feat-t", "command": []string{"sleep", "999"}, "timeoutSeconds": 1})
	mustRefuse(t, "exec", res, "did not finish within 1s", "timeoutSeconds")
	var out mcpserver.Executed
	structured(t, res, &out)
	if !out.TimedOut || out.Stdout != "started\n" {
		t.Fatalf("exec result %+v", out)
	}
}

func TestLogsAreBoundedInBytes(t *testing.T) {
	h := newHarness(t, false)
	mustSucceed(t, "create", h.call("create", map[string]any{"name": "feat-l", "slot": 6}))
	h.docker.logs = strings.Repeat("line\n", 1000) + "last line\n"
	res := h.call("logs", map[string]any{"instance": "feat-l", "maxBytes": 64})
	mustSucceed(t, "logs", res)
	var out mcpserver.Logs
	structured(t, res, &out)
	if !out.Truncated || len(out.Logs) != 64 || !strings.HasSuffix(out.Logs, "last line\n") {
		t.Fatalf("logs %+v", out)
	}
}

func TestASandboxOfAnotherRepositoryCannotBeNamed(t *testing.T) {
	h := newHarness(t, false)
	e, err := h.env(h.repo)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := "/elsewhere"
	err = e.RegistryStore().Update(context.Background(), func(f *registry.File) error {
		f.Instances["ktrdr--other"] = &registry.Instance{InstanceID: "ktrdr--other", Slot: 7, Path: "/elsewhere-other", IsWorktree: true, ParentRepo: &elsewhere}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, "status", h.call("status", map[string]any{"instance": "other"}), "belongs to another repository")
	mustRefuse(t, "status", h.call("status", map[string]any{"instance": "nosuch"}), `no sandbox named "nosuch"`, "go tool mage sandbox:create <name>")
}

func TestDoctorIsTheJSONOfDoctorJSON(t *testing.T) {
	h := newHarness(t, false)
	res := h.call("doctor", nil)
	mustSucceed(t, "doctor", res)
	var rep core.DoctorJSON
	structured(t, res, &rep)
	if len(rep.Findings) == 0 {
		t.Fatal("doctor reported no finding")
	}
}

// TestACancelledCallCancelsTheOperation: the client's notifications/cancelled reaches the
// core operation's context, as Ctrl-C does, and the server serves the next call.
func TestACancelledCallCancelsTheOperation(t *testing.T) {
	h := newHarness(t, false)
	mustSucceed(t, "create", h.call("create", map[string]any{"name": "feat-c", "slot": 2}))
	h.docker.execHang, h.docker.execDone, h.docker.execRuns = true, make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	called := make(chan error, 1)
	go func() {
		_, err := h.client.CallTool(ctx, &mcp.CallToolParams{Name: "exec", Arguments: map[string]any{"instance": "feat-c", "command": []string{"sleep", "999"}}})
		called <- err
	}()
	select { // cancel once the call is running
	case <-h.docker.execRuns:
	case <-time.After(5 * time.Second):
		t.Fatal("exec never reached the engine")
	}
	cancel()
	if err := <-called; err == nil {
		t.Error("a cancelled call returned no error to its client")
	}
	select {
	case <-h.docker.execDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the operation's context was not cancelled")
	}
	mustSucceed(t, "list", h.call("list", nil))
}

// TestTwoChangingCallsOnOneSandboxAreRefusedClearly: while a destroy works on a sandbox,
// another changing call on it through the same server is refused with what is busy.
func TestTwoChangingCallsOnOneSandboxAreRefusedClearly(t *testing.T) {
	h := newHarness(t, false)
	mustSucceed(t, "create", h.call("create", map[string]any{"name": "feat-b", "slot": 2}))
	h.docker.teardown, h.docker.tearing = make(chan struct{}), make(chan struct{})
	first := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, _ := h.client.CallTool(context.Background(), &mcp.CallToolParams{Name: "destroy", Arguments: map[string]any{"instance": "feat-b", "confirm": "feat-b"}})
		first <- res
	}()
	<-h.docker.tearing
	mustRefuse(t, "down", h.call("down", map[string]any{"instance": "feat-b"}), "ktrdr--feat-b is busy: a destroy call is working on it")
	mustRefuse(t, "up", h.call("up", map[string]any{"instance": "ktrdr--feat-b"}), "ktrdr--feat-b is busy") // named by its id
	// reading is not held up
	mustSucceed(t, "list", h.call("list", nil))
	close(h.docker.teardown)
	if res := <-first; res == nil || res.IsError {
		t.Fatalf("the first destroy: %v", res)
	}
}

func TestExecInAServiceThatIsNotRunningIsRefusedBeforeItRuns(t *testing.T) {
	h := newHarness(t, false)
	mustSucceed(t, "create", h.call("create", map[string]any{"name": "feat-n", "slot": 5}))
	mustRefuse(t, "exec", h.call("exec", map[string]any{"instance": "feat-n", "service": "db", "command": []string{"true"}}),
		"service db of ktrdr--feat-n is not running", "go tool mage sandbox:up")
	if h.docker.execCmd != nil {
		t.Errorf("ran %v in a service that is not running", h.docker.execCmd)
	}
}

// TestAServerStartedInASandboxActsOnItByDefault: an agent working in a sandbox's
// worktree names nothing; destroy still needs the confirm.
func TestAServerStartedInASandboxActsOnItByDefault(t *testing.T) {
	h := newHarness(t, false)
	res := h.call("create", map[string]any{"name": "feat-d", "slot": 2})
	mustSucceed(t, "create", res)
	var c mcpserver.Created
	structured(t, res, &c)
	inside := h.serve(c.Path, false)
	status, err := inside.CallTool(context.Background(), &mcp.CallToolParams{Name: "status"})
	if err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, "status", status)
	var rep core.StatusReport
	structured(t, status, &rep)
	if rep.InstanceID != "ktrdr--feat-d" || rep.Path != c.Path {
		t.Fatalf("status %+v", rep)
	}
	destroy, err := inside.CallTool(context.Background(), &mcp.CallToolParams{Name: "destroy", Arguments: map[string]any{"confirm": "feat-x"}})
	if err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, "destroy", destroy, `confirm set to "feat-d"`)
}

// initShared copies a checkout's data into the machine's shared directory with progress,
// says it is up to date when run again, and refuses from with minimal as the target does.
func TestInitSharedFillsTheSharedDirectoryWithProgress(t *testing.T) {
	h := newHarness(t, false)
	src := t.TempDir()
	for _, f := range []string{"data/a.csv", "data/bars/b.csv", "models/m.bin"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := h.callWithProgress("initShared", map[string]any{"from": src})
	mustSucceed(t, "initShared", res)
	var got mcpserver.SharedData
	structured(t, res, &got)
	if got.Outcome != "copied" || got.Root != filepath.Join(h.home, ".ktrdr", "shared") || len(got.Subdirs) == 0 {
		t.Fatalf("initShared: %+v", got)
	}
	if b, err := os.ReadFile(filepath.Join(got.Root, "data", "bars", "b.csv")); err != nil || string(b) != "data/bars/b.csv" {
		t.Errorf("copied file: %q %v", b, err)
	}
	h.mu.Lock()
	steps := strings.Join(h.steps, "\n")
	h.mu.Unlock()
	if !strings.Contains(steps, "data/") {
		t.Errorf("progress did not name what it copied: %q", steps)
	}
	mustSucceed(t, "initShared again", h.call("initShared", map[string]any{"from": src}))
	mustRefuse(t, "initShared", h.call("initShared", map[string]any{"from": src, "minimal": true}), "cannot be used together")
}
