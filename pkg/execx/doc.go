// Package execx runs external programs (git, docker, op) the one way this tool allows:
// cancellable by context, with an explicit directory and environment, arguments passed as
// they are (no shell, no $ expansion), output to the writers the caller gives.
package execx
