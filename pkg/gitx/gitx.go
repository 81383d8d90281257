package gitx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/lock"
)

// Git runs git with a fixed environment (nil: the process's).
type Git struct {
	Env []string
	// LockPath, when set, is a file locked around every worktree change: git itself
	// races when several worktrees of one repository are added at once.
	LockPath string
}

// worktreeLockWait bounds the wait for another process's worktree change; git worktree
// add of a large repository can take a while.
const worktreeLockWait = 2 * time.Minute

// lockWorktrees holds LockPath for the duration of one worktree change.
func (g Git) lockWorktrees(ctx context.Context) (func(), error) {
	if g.LockPath == "" {
		return func() {}, nil
	}
	release, err := lock.Acquire(ctx, g.LockPath, worktreeLockWait, "git worktrees")
	if err != nil {
		return nil, fmt.Errorf("waiting for another worktree change: %w", err)
	}
	return release, nil
}

func (g Git) output(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := execx.Output(ctx, execx.Cmd{Name: "git", Args: args, Dir: dir, Env: g.Env, Timeout: 2 * time.Minute})
	if err != nil {
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}

// TopLevel is the root of the working tree containing dir.
func (g Git) TopLevel(ctx context.Context, dir string) (string, error) {
	out, err := g.output(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("%s is not inside a git repository: %w", dir, err)
	}
	return strings.TrimSpace(out), nil
}

// Kind says what a directory is to git.
type Kind int

const (
	NotGit   Kind = iota // no .git entry
	Clone                // .git is a directory
	Worktree             // .git is a file pointing into another repository
)

// KindOf looks only at dir/.git, the way git itself tells a linked worktree from a clone.
func KindOf(dir string) Kind {
	fi, err := os.Lstat(filepath.Join(dir, ".git"))
	switch {
	case err != nil:
		return NotGit
	case fi.IsDir():
		return Clone
	case fi.Mode().IsRegular():
		return Worktree
	}
	return NotGit
}

// MainRepo returns the main working tree of the repository dir belongs to (for a linked
// worktree, the clone it was added from).
func (g Git) MainRepo(ctx context.Context, dir string) (string, error) {
	out, err := g.output(ctx, dir, "rev-parse", "--path-format=absolute", "--git-common-dir")
	if err != nil {
		return "", err
	}
	common := strings.TrimSpace(out)
	if filepath.Base(common) == ".git" {
		return filepath.Dir(common), nil
	}
	return "", fmt.Errorf("%s: repository %s has no main working tree", dir, common)
}

// BranchExists reports whether a local branch of that name exists.
func (g Git) BranchExists(ctx context.Context, repo, branch string) (bool, error) {
	out, err := g.output(ctx, repo, "branch", "--list", "--", branch)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) != "", nil
}

// WorktreeAdd adds a worktree at path: branch checked out if it exists, created from
// HEAD if not, or git's default (a new branch named after the directory) when empty.
func (g Git) WorktreeAdd(ctx context.Context, repo, path, branch string) error {
	args := []string{"worktree", "add"}
	if branch != "" {
		exists, err := g.BranchExists(ctx, repo, branch)
		if err != nil {
			return err
		}
		if exists {
			args = append(args, "--", path, branch)
		} else {
			args = append(args, "-b", branch, "--", path)
		}
	} else {
		args = append(args, "--", path)
	}
	return g.changeWorktrees(ctx, repo, args...)
}

// WorktreeRemove removes the worktree at path. Without force git refuses a worktree
// with modified or untracked files, which is the last line of defence for user work.
func (g Git) WorktreeRemove(ctx context.Context, repo, path string, force bool) error {
	args := []string{"worktree", "remove"}
	if force {
		args = append(args, "--force")
	}
	args = append(args, "--", path)
	return g.changeWorktrees(ctx, repo, args...)
}

// WorktreePrune drops git's records of worktrees whose directories are gone.
func (g Git) WorktreePrune(ctx context.Context, repo string) error {
	return g.changeWorktrees(ctx, repo, "worktree", "prune")
}

// changeWorktrees runs a git command that changes worktrees, under the worktree lock.
func (g Git) changeWorktrees(ctx context.Context, repo string, args ...string) error {
	unlock, err := g.lockWorktrees(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	_, err = g.output(ctx, repo, args...)
	return err
}

// WorktreeInfo is one entry of `git worktree list --porcelain`.
type WorktreeInfo struct {
	Path   string
	Branch string // refs/heads/... or empty when detached
	Bare   bool
}

// WorktreeList lists the worktrees of the repository at repo, main one first.
func (g Git) WorktreeList(ctx context.Context, repo string) ([]WorktreeInfo, error) {
	out, err := g.output(ctx, repo, "worktree", "list", "--porcelain", "-z")
	if err != nil {
		return nil, err
	}
	var list []WorktreeInfo
	var cur *WorktreeInfo
	for _, field := range strings.Split(out, "\x00") {
		switch {
		case strings.HasPrefix(field, "worktree "):
			list = append(list, WorktreeInfo{Path: strings.TrimPrefix(field, "worktree ")})
			cur = &list[len(list)-1]
		case cur != nil && strings.HasPrefix(field, "branch "):
			cur.Branch = strings.TrimPrefix(field, "branch ")
		case cur != nil && field == "bare":
			cur.Bare = true
		}
	}
	return list, nil
}

// Changes lists uncommitted work in dir: modified, staged and untracked files (ignored
// files are not work git can lose for the user). Paths in except (relative to dir, such as
// the tool's own .env.sandbox) are left out.
func (g Git) Changes(ctx context.Context, dir string, except ...string) ([]string, error) {
	out, err := g.output(ctx, dir, "status", "--porcelain=v1", "-z", "--untracked-files=all")
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	for _, e := range except {
		skip[e] = true
	}
	var changes []string
	fields := strings.Split(out, "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		status, path := f[:2], f[3:]
		if status[0] == 'R' || status[0] == 'C' {
			i++ // the next field is the rename source
		}
		if skip[path] {
			continue
		}
		changes = append(changes, path)
	}
	return changes, nil
}

// CheckRefFormat normalizes a branch name, or fails when git would reject it.
func (g Git) CheckRefFormat(ctx context.Context, branch string) (string, error) {
	out, err := g.output(ctx, "", "check-ref-format", "--branch", branch)
	return strings.TrimSpace(out), err
}
