//go:build unix

package shared

import (
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// entryAt is entry e of the open directory dir, by fstatat: relative to the open
// directory, as du does, so the kernel resolves one name instead of the whole path.
func entryAt(dir *os.File, e fs.DirEntry) (entry, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return entry{}, fs.ErrNotExist
		}
		return entry{}, &fs.PathError{Op: "fstatat", Path: e.Name(), Err: err}
	}
	mode := e.Type() | fs.FileMode(st.Mode&0o777)
	for bit, m := range map[uint32]fs.FileMode{unix.S_ISUID: fs.ModeSetuid, unix.S_ISGID: fs.ModeSetgid, unix.S_ISVTX: fs.ModeSticky} {
		if uint32(st.Mode)&bit != 0 {
			mode |= m
		}
	}
	en := entry{mode: mode, mtime: time.Unix(st.Mtim.Unix())}
	if mode.IsRegular() {
		en.size = st.Size
	}
	return en, nil
}
