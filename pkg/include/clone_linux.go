package include

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// cloneFile makes a new dst that shares src's blocks (FICLONE: btrfs, XFS, bcachefs).
func cloneFile(src, dst string, perm fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	cerr := unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
	if err := out.Close(); cerr == nil {
		cerr = err
	}
	if cerr == nil {
		return nil
	}
	_ = os.Remove(dst)
	if errors.Is(cerr, unix.EOPNOTSUPP) || errors.Is(cerr, unix.EXDEV) || errors.Is(cerr, unix.EINVAL) ||
		errors.Is(cerr, unix.ENOTTY) || errors.Is(cerr, unix.ENOSYS) || errors.Is(cerr, unix.EPERM) {
		return errNoClone
	}
	return cerr
}
