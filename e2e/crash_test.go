package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func crashCmd(work, dir, step string, args ...string) *exec.Cmd {
	cmd := sandboxCmd(work, dir, args...)
	cmd.Env = append(cmd.Env, "SANDBOX_TEST_CRASH_AT="+step)
	return cmd
}

func mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	return string(out)
}

func killed(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%v was not killed at its crash point: %v\n%s", cmd.Args, err, out)
	}
}

// Every step of create and destroy is killed with SIGKILL in turn; each time list tells
// the truth about the state left, and destroy or gc then finishes the job.
func TestCrashPoints(t *testing.T) {
	work := t.TempDir()
	if err := makeRepo(work); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(work, "repo")
	wt := filepath.Join(work, "ktrdr--x")
	list := func() string { return mustRun(t, sandboxCmd(work, repo, "sandbox:list")) }
	clean := func() {
		t.Helper()
		if out := list(); !strings.Contains(out, "No sandbox instances found") {
			t.Fatalf("not clean:\n%s", out)
		}
		if out := mustRun(t, exec.Command("git", "-C", repo, "worktree", "list")); strings.Contains(out, "ktrdr--x") {
			t.Fatalf("worktree left:\n%s", out)
		}
	}

	// create killed after reserving the slot: the entry's directory is missing
	killed(t, crashCmd(work, repo, "create:reserved", "sandbox:create", "x"))
	if out := list(); !strings.Contains(out, "ktrdr--x  1     missing") {
		t.Fatalf("after create:reserved:\n%s", out)
	}
	out, _ := sandboxCmd(work, repo, "sandbox:create", "x").CombinedOutput()
	if !strings.Contains(string(out), "already registered") {
		t.Fatalf("create over the stale entry:\n%s", out)
	}
	if out := mustRun(t, sandboxCmd(work, repo, "sandbox:gc")); !strings.Contains(out, "stale registry entry ktrdr--x") {
		t.Fatalf("gc:\n%s", out)
	}
	clean()

	// create killed after adding the worktree: registered, no env file
	killed(t, crashCmd(work, repo, "create:worktree", "sandbox:create", "x"))
	if out := list(); !strings.Contains(out, "ktrdr--x  1     broken (no .env.sandbox)") {
		t.Fatalf("after create:worktree:\n%s", out)
	}
	doc, _ := sandboxCmd(work, repo, "sandbox:doctor").CombinedOutput()
	if !strings.Contains(string(doc), "sandbox:destroy (an interrupted create)") {
		t.Errorf("doctor:\n%s", doc)
	}
	mustRun(t, sandboxCmd(work, wt, "sandbox:destroy", "-force"))
	clean()

	// destroy killed after compose down, then after the worktree is gone
	mustRun(t, sandboxCmd(work, repo, "sandbox:create", "x"))
	killed(t, crashCmd(work, wt, "destroy:down", "sandbox:destroy", "-force"))
	if out := list(); !strings.Contains(out, "ktrdr--x  1     stopped") && !strings.Contains(out, "ktrdr--x  1     unknown") {
		t.Fatalf("after destroy:down:\n%s", out)
	}
	mustRun(t, sandboxCmd(work, wt, "sandbox:destroy", "-force"))
	clean()

	mustRun(t, sandboxCmd(work, repo, "sandbox:create", "x"))
	killed(t, crashCmd(work, wt, "destroy:worktree", "sandbox:destroy", "-force"))
	if _, err := os.Stat(wt); !os.IsNotExist(err) {
		t.Fatal("worktree still there after destroy:worktree")
	}
	if out := list(); !strings.Contains(out, "ktrdr--x  1     missing") {
		t.Fatalf("after destroy:worktree:\n%s", out)
	}
	mustRun(t, sandboxCmd(work, repo, "sandbox:gc"))
	clean()
	// and the branches survived every crash
	if out := mustRun(t, exec.Command("git", "-C", repo, "branch", "--list", "ktrdr--x")); !strings.Contains(out, "ktrdr--x") {
		t.Fatal("branch lost")
	}
}
