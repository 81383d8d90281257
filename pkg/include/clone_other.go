//go:build !linux && !darwin

package include

import "io/fs"

// cloneFile: no block cloning this tool knows of here; the caller copies.
func cloneFile(string, string, fs.FileMode) error { return errNoClone }
