package snapshot

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback: macOS has no call that starts writeback of a range without waiting;
// durable does it all at the end.
func startWriteback(*os.File, int64, int64) {}

// durable returns once f's content is on the disk itself. fsync on macOS only hands the
// data to the drive, whose cache may lose it on power loss; F_FULLFSYNC flushes that too,
// so the manifest (written after) never names a snapshot the disk does not hold. Where
// the filesystem refuses it (some network shares), fsync is what there is.
func durable(f *os.File) error {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_FULLFSYNC, 0); err == nil {
		return nil
	}
	return f.Sync()
}
