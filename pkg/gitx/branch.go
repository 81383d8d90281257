package gitx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
)

// DeleteBranch deletes a local branch. Only a create that made the branch moments ago
// and then failed uses it; git itself refuses a branch checked out in any worktree.
func (g Git) DeleteBranch(ctx context.Context, repo, branch string) error {
	_, err := g.output(ctx, repo, "branch", "-D", branch)
	return err
}

// Run runs git with args in dir, stdin fed from stdin (nil: none), and returns its
// standard output. Errors keep execx's exit code, for commands whose exit 1 is an answer.
func (g Git) Run(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	var in io.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	}
	return execx.Output(ctx, execx.Cmd{Name: "git", Args: args, Dir: dir, Env: g.Env, Stdin: in, Timeout: 2 * time.Minute})
}

// Locate returns the top of the checkout containing dir and the main working tree of its
// repository (for a linked worktree, the clone it was added from), in one git call.
func (g Git) Locate(ctx context.Context, dir string) (top, mainRepo string, err error) {
	out, err := g.output(ctx, dir, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir")
	if err != nil {
		return "", "", fmt.Errorf("%s is not inside a git repository: %w", dir, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return "", "", fmt.Errorf("%s: not inside a working tree", dir)
	}
	if filepath.Base(lines[1]) != ".git" {
		return "", "", fmt.Errorf("%s: repository %s has no main working tree", dir, lines[1])
	}
	return lines[0], filepath.Dir(lines[1]), nil
}

// AddWorktree adds a worktree at path with branch checked out when existing, or on a new
// branch of that name from HEAD otherwise. The caller knows which (it must, to undo a
// failed create without deleting a branch it did not make), so git is not asked again.
func (g Git) AddWorktree(ctx context.Context, repo, path, branch string, existing bool) error {
	if existing {
		return g.changeWorktrees(ctx, repo, "worktree", "add", "--", path, branch)
	}
	return g.changeWorktrees(ctx, repo, "worktree", "add", "-b", branch, "--", path)
}
