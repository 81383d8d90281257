package shared

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// swap puts the tree at work in place of dst atomically (renamex_np with RENAME_SWAP).
func swap(work, dst string) error {
	err := unix.RenamexNp(work, dst, unix.RENAME_SWAP)
	if errors.Is(err, unix.ENOENT) {
		if _, statErr := os.Lstat(dst); os.IsNotExist(statErr) {
			err = os.Rename(work, dst)
		}
	}
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EINVAL) {
		return swapByRenames(work, dst)
	}
	if err != nil {
		return fmt.Errorf("swap %s into place: %w", dst, err)
	}
	return nil
}
