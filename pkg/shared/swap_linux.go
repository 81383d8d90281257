package shared

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// swap puts the tree at work in place of dst atomically. With an existing dst both are
// exchanged in one renameat2(RENAME_EXCHANGE), so no instant sees dst missing; work then
// holds the old tree for the caller to remove.
func swap(work, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, work, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		if _, statErr := os.Lstat(dst); os.IsNotExist(statErr) {
			err = os.Rename(work, dst)
		}
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return swapByRenames(work, dst)
	}
	if err != nil {
		return fmt.Errorf("swap %s into place: %w", dst, err)
	}
	return nil
}
