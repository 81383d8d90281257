package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcquireWaitsWithinItsBoundAndNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.lock")
	release, err := Acquire(context.Background(), path, 0, "thing")
	if err != nil {
		t.Fatal(err)
	}
	if Holder(path) != os.Getpid() {
		t.Errorf("holder %d, want this process %d", Holder(path), os.Getpid())
	}
	// flock is per open file: a second Acquire in this process contends like another
	// process would.
	start := time.Now()
	_, err = Acquire(context.Background(), path, 150*time.Millisecond, "thing")
	var busy *BusyError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &busy) || busy.HolderPID != os.Getpid() {
		t.Fatalf("second Acquire = %v, want busy naming pid %d", err, os.Getpid())
	}
	if waited := time.Since(start); waited < 150*time.Millisecond || waited > 5*time.Second {
		t.Errorf("waited %s for a 150ms bound", waited)
	}
	if !strings.Contains(err.Error(), "thing is busy: held by pid") {
		t.Errorf("message %q", err)
	}
	release()
	again, err := Acquire(context.Background(), path, 0, "thing")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

func TestAcquireStopsWhenTheContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	release, err := Acquire(context.Background(), path, 0, "thing")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	if _, err := Acquire(ctx, path, time.Minute, "thing"); err == nil || errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire = %v, want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("cancel was not honoured promptly")
	}
}
