// Package snapshot copies the named volumes of a compose project to compressed files and
// back. The copy runs through a helper container built locally from this package's own
// static program (helper/): nothing is pulled. Data moves as a tar stream through the
// Docker API (`docker cp`), compressed with zstd, checksummed, and a snapshot is listed
// only once its manifest is in place. A restore stages the data inside each volume and
// swaps it in with a journaled rename, so an interrupted restore is finished, not mixed.
package snapshot
