package stats

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestHistoryKeepsTheMostSeenWhileRunning(t *testing.T) {
	h := History{Path: filepath.Join(t.TempDir(), "state", "usage.json")}
	if got := h.Load(); len(got) != 0 {
		t.Fatalf("new history: %v", got)
	}
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.Record(map[string]Usage{"a": {Containers: 3, MemBytes: 300}, "b": {Containers: 0, MemBytes: 0, DiskBytes: 9}}, t0))
	must(h.Record(map[string]Usage{"a": {Containers: 3, MemBytes: 200}}, t0.Add(time.Hour)))
	must(h.Record(map[string]Usage{"a": {Containers: 3, MemBytes: 500}}, t0.Add(2*time.Hour)))
	got := h.Load()
	if got["a"].MemBytes != 500 || !got["a"].At.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("a: %+v", got["a"])
	}
	if _, ok := got["b"]; ok {
		t.Error("a stopped instance was recorded as a run")
	}
	// a new run: the old figure stands until the run's first measurement replaces it,
	// however small; then the run's most is kept again
	must(h.StartRun("a", t0.Add(3*time.Hour)))
	if got := h.Load()["a"]; got.MemBytes != 500 {
		t.Errorf("a new run dropped the last figure: %+v", got)
	}
	must(h.Record(map[string]Usage{"a": {Containers: 3, MemBytes: 120}}, t0.Add(4*time.Hour)))
	must(h.Record(map[string]Usage{"a": {Containers: 3, MemBytes: 100}}, t0.Add(5*time.Hour)))
	if got := h.Load()["a"]; got.MemBytes != 120 {
		t.Errorf("after a new run: %+v, want the run's most (120)", got)
	}
	must(h.Forget("a"))
	if len(h.Load()) != 0 {
		t.Error("forget kept it")
	}
	must(os.WriteFile(h.Path, []byte("{not json"), 0o644))
	if len(h.Load()) != 0 {
		t.Error("a broken file is not an empty history")
	}
	must(h.Record(map[string]Usage{"c": {Containers: 1, MemBytes: 7}}, t0))
	if h.Load()["c"].MemBytes != 7 {
		t.Error("a broken file was not replaced by a good one")
	}
}
