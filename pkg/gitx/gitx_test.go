package gitx

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func gitRepo(t *testing.T) (Git, string) {
	t.Helper()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
	for _, args := range [][]string{{"init", "-q", "-b", "main", repo}, {"-C", repo, "commit", "-q", "--allow-empty", "-m", "x"}} {
		cmd := exec.Command("git", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	return Git{Env: env, LockPath: filepath.Join(dir, "wt.lock")}, repo
}

func TestWorktreeLifecycle(t *testing.T) {
	g, repo := gitRepo(t)
	ctx := context.Background()
	wt := filepath.Join(filepath.Dir(repo), "ktrdr--x")
	if err := g.WorktreeAdd(ctx, repo, wt, "feature/x"); err != nil {
		t.Fatal(err)
	}
	if KindOf(wt) != Worktree || KindOf(repo) != Clone || KindOf(t.TempDir()) != NotGit {
		t.Fatal("KindOf")
	}
	main, err := g.MainRepo(ctx, wt)
	if err != nil || main != repo {
		t.Fatalf("MainRepo = %q, %v", main, err)
	}
	list, err := g.WorktreeList(ctx, repo)
	if err != nil || len(list) != 2 || list[1].Path != wt || list[1].Branch != "refs/heads/feature/x" {
		t.Fatalf("WorktreeList = %+v, %v", list, err)
	}

	// uncommitted work: modified, staged, untracked, renamed; the env file is excepted
	for name, content := range map[string]string{"a.txt": "a", ".env.sandbox": "X=1", "sub/b.txt": "b"} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(wt, name)), 0o755)
		_ = os.WriteFile(filepath.Join(wt, name), []byte(content), 0o644)
	}
	changes, err := g.Changes(ctx, wt, ".env.sandbox")
	sort.Strings(changes)
	if err != nil || strings.Join(changes, ",") != "a.txt,sub/b.txt" {
		t.Fatalf("Changes = %v, %v", changes, err)
	}
	if err := g.WorktreeRemove(ctx, repo, wt, false); err == nil {
		t.Fatal("git removed a worktree holding untracked files without force")
	}
	if err := g.WorktreeRemove(ctx, repo, wt, true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := g.BranchExists(ctx, repo, "feature/x"); !ok {
		t.Fatal("the branch went with the worktree")
	}
	// an existing branch is checked out rather than created
	if err := g.WorktreeAdd(ctx, repo, wt, "feature/x"); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRefFormat(t *testing.T) {
	g, _ := gitRepo(t)
	for _, bad := range []string{"a..b", "a b", "a~1", "-x", "a.lock"} {
		if _, err := g.CheckRefFormat(context.Background(), bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := g.CheckRefFormat(context.Background(), "feature/ok-1"); err != nil {
		t.Error(err)
	}
}
