package shared

import (
	"fmt"
	"os"
	"path/filepath"
)

// swapByRenames is the fallback where the filesystem cannot exchange two paths: dst is
// renamed aside, then work into place. Between the two renames dst is briefly missing,
// never mixed; a crash there leaves the old tree beside it under the work prefix.
func swapByRenames(work, dst string) error {
	aside := filepath.Join(filepath.Dir(work), "old")
	if err := os.Rename(dst, aside); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("move %s aside: %w", dst, err)
	}
	if err := os.Rename(work, dst); err != nil {
		_ = os.Rename(aside, dst)
		return fmt.Errorf("move new %s into place: %w", dst, err)
	}
	return nil
}
