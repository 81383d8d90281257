// Package gitx is the little of git this tool needs, through the git command line:
// worktrees, clone-versus-worktree, and whether a tree holds uncommitted work.
package gitx
