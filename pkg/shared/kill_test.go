package shared

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperCopyProcess is not a test: TestKillDuringCopy runs the test binary again as a
// real copy process, to kill it with SIGKILL.
func TestHelperCopyProcess(t *testing.T) {
	src, dst := os.Getenv("SHARED_HELPER_SRC"), os.Getenv("SHARED_HELPER_DST")
	if src == "" {
		t.Skip("helper process only")
	}
	if _, err := Replace(context.Background(), src, dst, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func makeTree(t *testing.T, root, tag string, files, size int) {
	t.Helper()
	body := strings.Repeat(tag, size/len(tag))
	for i := 0; i < files; i++ {
		write(t, filepath.Join(root, fmt.Sprintf("d%02d", i%17), fmt.Sprintf("%s-%04d.csv", tag, i)), body)
	}
}

// TestKillDuringCopy kills a real copy process at random instants and checks that the
// destination is always exactly the old tree or exactly the new one, and that the next
// run completes the job.
func TestKillDuringCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes")
	}
	dir := t.TempDir()
	oldSrc, newSrc := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	dst := filepath.Join(dir, "shared", "data")
	makeTree(t, oldSrc, "old", 150, 32<<10)
	makeTree(t, newSrc, "new", 400, 32<<10)
	oldM, newM := manifest(t, oldSrc), manifest(t, newSrc)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}

	// How long one full copy takes here bounds the kill instants.
	start := time.Now()
	if _, err := Replace(context.Background(), newSrc, dst, nil); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)

	const rounds = 25
	outcomes := map[string]int{}
	for i := 0; i < rounds; i++ {
		if _, err := Replace(context.Background(), oldSrc, dst, nil); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCopyProcess$")
		cmd.Env = append(os.Environ(), "SHARED_HELPER_SRC="+newSrc, "SHARED_HELPER_DST="+dst)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Process start-up is part of the window: kill anywhere from at once to well
		// after a copy would have finished.
		time.Sleep(time.Duration(rand.Int64N(int64(3*full + 20*time.Millisecond))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		got := manifest(t, dst)
		switch {
		case sameManifest(got, oldM):
			outcomes["old"]++
		case sameManifest(got, newM):
			outcomes["new"]++
		default:
			t.Fatalf("round %d: destination is neither the old nor the new tree (%d entries)", i, len(got))
		}
		if _, err := Replace(context.Background(), newSrc, dst, nil); err != nil {
			t.Fatalf("round %d: run after the kill: %v", i, err)
		}
		if !sameManifest(manifest(t, dst), newM) {
			t.Fatalf("round %d: run after the kill did not complete the copy", i)
		}
	}
	t.Logf("%d kills (copy takes %s): destination was old %d times, new %d times, mixed never", rounds, full, outcomes["old"], outcomes["new"])
}
