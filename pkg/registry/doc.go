// Package registry reads and writes the per-machine instances.json that records every
// sandbox and the local-prod. The format is the one KTRDR machines already have; fields
// this tool does not know are carried through every save. Writes happen under an exclusive
// lock on a sidecar file and land atomically (temp file + rename), so concurrent commands
// never lose each other's updates and a crash never leaves a half-written file. A file
// that does not parse is an error naming the file; it is never replaced.
package registry
