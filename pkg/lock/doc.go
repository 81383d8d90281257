// Package lock is the one helper for every lock file the tool uses: an exclusive
// advisory lock (flock) on a sidecar file, waited for within a bound, with the holder's
// pid written into the file so that a process that gives up can say who holds it.
package lock
