package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Ctrl-C in the middle of create, while git is adding the worktree (its new branch already
// made, as git does first): the command says it was interrupted and leaves nothing behind:
// no registry entry, no directory, no worktree, no branch.
func TestCtrlCDuringCreateLeavesNothing(t *testing.T) {
	work := t.TempDir()
	repo, marker := hangingWorktreeAdd(t, work, "ktrdr--x")
	cmd := sandboxCmd(work, repo, "sandbox:create", "x")
	withSlowGit(cmd, work)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's Ctrl-C reaches the whole group
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !exists(marker) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait() // its output is whole (and no longer written) once it is gone
			t.Fatalf("create never reached git worktree add:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("create did not stop within 20s of Ctrl-C:\n%s", out.String())
	}
	if err == nil {
		t.Fatalf("interrupted create exited 0:\n%s", out.String())
	}
	text := out.String()
	if !strings.Contains(text, "Error: interrupted") || strings.Contains(text, "working tree") {
		t.Errorf("want an 'interrupted' error, got:\n%s", text)
	}
	if exists(filepath.Join(work, "ktrdr--x")) {
		t.Errorf("the worktree directory was left behind")
	}
	if got := mustRun(t, exec.Command("git", "-C", repo, "branch", "--list", "ktrdr--x")); strings.TrimSpace(got) != "" {
		t.Errorf("the new branch was left behind: %q", got)
	}
	if got := mustRun(t, exec.Command("git", "-C", repo, "worktree", "list")); strings.Contains(got, "ktrdr--x") {
		t.Errorf("a worktree was left registered:\n%s", got)
	}
	if got := mustRun(t, sandboxCmd(work, repo, "sandbox:list")); !strings.Contains(got, "No sandbox instances found") {
		t.Errorf("a registry entry was left:\n%s", got)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// A create cancelled through the MCP server while git is adding the worktree stops as
// Ctrl-C does: no registry entry, no directory, no worktree, no branch.
func TestMCPCancelledCreateLeavesNothing(t *testing.T) {
	work := t.TempDir()
	repo, marker := hangingWorktreeAdd(t, work, "ktrdr--mcp-x")
	cmd := sandboxCmd(work, repo, "sandbox:mcp")
	withSlowGit(cmd, work)
	cs := mcpSessionOf(t, work, cmd, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create", Arguments: map[string]any{"name": "mcp-x", "slot": 7}})
		called <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !exists(marker) {
		if time.Now().After(deadline) {
			t.Fatal("create never reached git worktree add")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-called; err == nil {
		t.Error("the cancelled create returned no error to its client")
	}
	// The client returns at once; the server's log line says when the call ended.
	log := filepath.Join(work, "mcp-stderr.log")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(log)
		if strings.Contains(string(data), "tool=create") {
			if !strings.Contains(string(data), "cancelled") {
				t.Errorf("the server did not log the create as cancelled:\n%s", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the create did not end within 20s of its cancellation:\n%s", data)
		}
	}
	if exists(filepath.Join(work, "ktrdr--mcp-x")) {
		t.Errorf("the worktree directory was left behind")
	}
	if got := mustRun(t, exec.Command("git", "-C", repo, "branch", "--list", "ktrdr--mcp-x")); strings.TrimSpace(got) != "" {
		t.Errorf("the new branch was left behind: %q", got)
	}
	if got := mustRun(t, exec.Command("git", "-C", repo, "worktree", "list")); strings.Contains(got, "ktrdr--mcp-x") {
		t.Errorf("a worktree was left registered:\n%s", got)
	}
	if res := callTool(t, cs, "list", nil); res.IsError || !strings.Contains(resultText(res), "0 instance(s)") {
		t.Errorf("a registry entry was left: %s", resultText(res))
	}
}

// hangingWorktreeAdd makes a repository in work and, in work/slowgit, a git that, asked
// to add a worktree, makes branch as git would first, touches the returned marker, and
// hangs: an interrupt then lands mid-create.
func hangingWorktreeAdd(t *testing.T, work, branch string) (repo, marker string) {
	t.Helper()
	if err := makeRepo(work); err != nil {
		t.Fatal(err)
	}
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	slow := filepath.Join(work, "slowgit")
	marker = filepath.Join(work, "adding")
	script := `#!/bin/sh
if [ "$1" = "worktree" ] && [ "$2" = "add" ]; then
  "` + realGit + `" branch ` + branch + `
  : > "` + marker + `"
  exec sleep 60
fi
exec "` + realGit + `" "$@"
`
	if err := os.MkdirAll(slow, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(slow, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(work, "repo"), marker
}

// withSlowGit puts hangingWorktreeAdd's git first on cmd's PATH.
func withSlowGit(cmd *exec.Cmd, work string) {
	for i, kv := range cmd.Env {
		if strings.HasPrefix(kv, "PATH=") {
			cmd.Env[i] = "PATH=" + filepath.Join(work, "slowgit") + string(os.PathListSeparator) + strings.TrimPrefix(kv, "PATH=")
		}
	}
}
