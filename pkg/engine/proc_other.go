//go:build !linux && !darwin

package engine

// processArgs: no way known here to read another process's arguments, so no recorded
// pid is ever taken for a tunnel's (and so never signalled).
func processArgs(int) ([]string, error) { return nil, errNoProcess }
