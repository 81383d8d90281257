package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ErrBusy is matched (errors.Is) by the error of a lock another process held too long.
var ErrBusy = errors.New("busy")

// BusyError says which lock was busy, who held it and how long the caller waited.
type BusyError struct {
	Path      string
	What      string // what the lock protects, e.g. "registry"
	HolderPID int    // 0 when the holder did not record itself
	Waited    time.Duration
}

func (e *BusyError) Error() string {
	holder := "another process"
	if e.HolderPID > 0 {
		holder = "pid " + strconv.Itoa(e.HolderPID)
	}
	return fmt.Sprintf("%s is busy: held by %s (lock %s), waited %s", e.What, holder, e.Path, e.Waited.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// pollEvery is how often a waiter tries the lock again.
const pollEvery = 20 * time.Millisecond

// Acquire takes the exclusive lock on path, creating the file and its directory, and
// returns the function that releases it. It waits at most wait (0: one try) and stops
// early when ctx ends. what names the protected thing in a busy error.
func Acquire(ctx context.Context, path string, wait time.Duration, what string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	fl := flock.New(path)
	start := time.Now()
	var ok bool
	if wait <= 0 {
		ok, err = fl.TryLock()
	} else {
		lctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = fl.TryLockContext(lctx, pollEvery)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = nil // the bound ran out: busy, not an error of its own
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, &BusyError{Path: path, What: what, HolderPID: Holder(path), Waited: time.Since(start)}
	}
	// The holder's pid lets a waiter name it; a crash leaves a stale pid behind, which
	// is harmless because the kernel drops the lock itself with the process.
	_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	return func() { _ = fl.Unlock() }, nil
}

// Holder is the pid recorded in the lock file at path, or 0.
func Holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
