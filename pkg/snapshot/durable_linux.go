package snapshot

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing a range to disk now, without waiting.
// Best effort: where the call is not supported, durable does it all at the end.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// durable returns once f's content is on the disk (fsync).
func durable(f *os.File) error { return f.Sync() }
