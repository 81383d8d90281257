// Package include copies the git-ignored files a developer relies on (.env, local
// settings, caches, node_modules, model caches) from a main checkout into a new worktree,
// as a repository's .worktreeinclude file (gitignore syntax) names them. Git decides what
// matches and what is ignored; tracked files are never touched, symlinks are copied as
// links and never followed, and nothing outside the repository is read. Files are cloned
// (FICLONE) where the filesystem can share their blocks, and copied otherwise.
package include
