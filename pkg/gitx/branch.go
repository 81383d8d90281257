package gitx

import "context"

// DeleteBranch deletes a local branch. Only a create that made the branch moments ago
// and then failed uses it; git itself refuses a branch checked out in any worktree.
func (g Git) DeleteBranch(ctx context.Context, repo, branch string) error {
	_, err := g.output(ctx, repo, "branch", "-D", branch)
	return err
}
