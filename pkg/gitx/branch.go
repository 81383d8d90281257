package gitx

import (
	"bytes"
	"context"
	"io"
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
