//go:build unix

package shared

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// sizeAt is the size of entry e of the open directory dir, by fstatat.
func sizeAt(dir *os.File, e fs.DirEntry) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return 0, fs.ErrNotExist
		}
		return 0, &fs.PathError{Op: "fstatat", Path: e.Name(), Err: err}
	}
	return st.Size, nil
}
