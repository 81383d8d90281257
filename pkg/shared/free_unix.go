//go:build unix

package shared

import "golang.org/x/sys/unix"

// FreeBytes is the space an unprivileged user can still write on the filesystem that
// holds path (statfs; its field types differ between Linux and macOS, hence the widening).
func FreeBytes(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize)), nil
}
