package include

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

// cloneFile makes a new dst that shares src's blocks (clonefile(2) on APFS). It creates
// dst itself, which must not exist, as FICLONE's caller's O_EXCL demands on Linux.
func cloneFile(src, dst string, _ fs.FileMode) error {
	err := unix.Clonefile(src, dst, unix.CLONE_NOFOLLOW)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return errNoClone // HFS+, a network share, another volume
	}
	return err
}
