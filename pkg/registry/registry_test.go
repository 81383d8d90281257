package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const ktrdrFile = `{
  "version": 1,
  "local_prod": {"instance_id": "ktrdr-prod", "slot": 0, "path": "/p", "created_at": "x", "is_worktree": false, "parent_repo": null, "host_services": {"ib": true}},
  "instances": {
    "ktrdr--x": {"instance_id": "ktrdr--x", "slot": 1, "path": "/abs/path", "created_at": "2026-01-20T21:21:22.123456+00:00", "is_worktree": true, "parent_repo": "/abs/repo", "note": "kept"}
  },
  "slots": {"1": {"slot_id": 1}}
}`

func TestUnknownFieldsSurviveASave(t *testing.T) {
	s := Store{Path: filepath.Join(t.TempDir(), "instances.json")}
	if err := os.WriteFile(s.Path, []byte(ktrdrFile), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Update(context.Background(), func(f *File) error {
		f.Instances["ktrdr--y"] = &Instance{InstanceID: "ktrdr--y", Slot: 2, Path: "/y"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.Path)
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["slots"] == nil {
		t.Error("top-level unknown field \"slots\" was dropped")
	}
	inst := raw["instances"].(map[string]any)["ktrdr--x"].(map[string]any)
	if inst["note"] != "kept" {
		t.Errorf("instance unknown field dropped: %v", inst)
	}
	lp := raw["local_prod"].(map[string]any)
	if lp["host_services"] == nil {
		t.Errorf("local_prod unknown field dropped: %v", lp)
	}
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if f.Instances["ktrdr--x"].ParentRepo == nil || *f.Instances["ktrdr--x"].ParentRepo != "/abs/repo" || f.LocalProd.ParentRepo != nil {
		t.Errorf("parent_repo not read back: %+v %+v", f.Instances["ktrdr--x"], f.LocalProd)
	}
}

func TestUnreadableFilesAreErrorsAndNeverReplaced(t *testing.T) {
	cases := map[string]string{
		"truncated":          ktrdrFile[:60],
		"empty":              "",
		"array":              "[1,2]",
		"slot is a string":   `{"version":1,"instances":{"a":{"slot":"one","path":"/a"}}}`,
		"instances an array": `{"version":1,"instances":[]}`,
		"path missing":       `{"version":1,"instances":{"a":{"slot":1}}}`,
		"version a string":   `{"version":"1"}`,
		"null":               `null`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			s := Store{Path: filepath.Join(t.TempDir(), "instances.json")}
			if err := os.WriteFile(s.Path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), s.Path) {
				t.Fatalf("Load() = %v, want ErrCorrupt naming the file", err)
			}
			err = s.Update(context.Background(), func(f *File) error { return nil })
			if err == nil {
				t.Fatal("Update over a corrupt file succeeded")
			}
			after, _ := os.ReadFile(s.Path)
			if string(after) != content {
				t.Fatal("the corrupt file was changed")
			}
		})
	}
}

func TestLineNumberOfASyntaxError(t *testing.T) {
	_, err := Parse([]byte("{\n\"version\": 1,\n\"instances\": {,}\n}"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want line 3", err)
	}
}

func TestFailedUpdateWritesNothing(t *testing.T) {
	s := Store{Path: filepath.Join(t.TempDir(), "instances.json")}
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(f *File) error {
		f.Instances["a"] = &Instance{InstanceID: "a", Path: "/a"}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
		t.Fatalf("registry written after a failed update: %v", err)
	}
}

// TestHelperProcess is not a test: the concurrency tests run the test binary again as
// separate processes that hammer one registry.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("REGISTRY_HELPER_PATH")
	if path == "" {
		t.Skip("helper process only")
	}
	s := Store{Path: path, LockWait: 30 * time.Second}
	switch os.Getenv("REGISTRY_HELPER_MODE") {
	case "add":
		n, _ := strconv.Atoi(os.Getenv("REGISTRY_HELPER_N"))
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("p%d-%d", os.Getpid(), i)
			if err := s.Update(context.Background(), func(f *File) error {
				f.Instances[id] = &Instance{InstanceID: id, Slot: len(f.Instances), Path: "/" + id}
				return nil
			}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	case "hold":
		_ = s.Update(context.Background(), func(f *File) error {
			fmt.Println("locked")
			time.Sleep(3 * time.Second)
			return nil
		})
	}
	os.Exit(0)
}

func helper(t *testing.T, path, mode string, n int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "REGISTRY_HELPER_PATH="+path, "REGISTRY_HELPER_MODE="+mode, "REGISTRY_HELPER_N="+strconv.Itoa(n))
	return cmd
}

func TestConcurrentProcessesLoseNoUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox", "instances.json")
	const procs, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := helper(t, path, "add", each).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f, err := Store{Path: path}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Instances) != procs*each {
		t.Fatalf("%d entries, want %d: updates were lost", len(f.Instances), procs*each)
	}
}

func TestLockHeldTooLongNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "instances.json")
	cmd := helper(t, path, "hold", 0)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	buf := make([]byte, 16)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := Store{Path: path, LockWait: 300 * time.Millisecond}.Update(context.Background(), func(*File) error { return nil })
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("err = %v, want ErrBusy naming pid %d", err, cmd.Process.Pid)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("waited %s for a 300ms bound", time.Since(start))
	}
}

func TestKeyOrderIsKTRDRs(t *testing.T) {
	f := New()
	f.Extra = map[string]json.RawMessage{"slots": json.RawMessage(`{}`)}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"version\": 1,\n  \"local_prod\": null,\n  \"instances\": {},\n  \"slots\": {}\n}"
	if string(data) != want {
		t.Fatalf("got\n%s\nwant\n%s", data, want)
	}
}

func TestContestedSlotsAreListedInOrder(t *testing.T) {
	f := New()
	for id, slot := range map[string]int{"a": 3, "b": 3, "c": 1, "d": 2, "e": 1} {
		f.Instances[id] = &Instance{InstanceID: id, Slot: slot, Path: "/" + id}
	}
	got := f.ContestedSlots()
	if len(got) != 2 || got[0].Slot != 1 || strings.Join(got[0].IDs, ",") != "c,e" || got[1].Slot != 3 || strings.Join(got[1].IDs, ",") != "a,b" {
		t.Fatalf("%+v", got)
	}
}

func TestSortedIsNaturalOrder(t *testing.T) {
	f := New()
	for _, id := range []string{"x--d10", "x--d2", "x--a", "x--d1", "x--d02", "x--b10c", "x--b9c"} {
		f.Instances[id] = &Instance{InstanceID: id}
	}
	var got []string
	for _, in := range f.Sorted() {
		got = append(got, in.InstanceID)
	}
	want := []string{"x--a", "x--b9c", "x--b10c", "x--d1", "x--d2", "x--d02", "x--d10"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Sorted = %v, want %v", got, want)
	}
}

// TestUpdateThenRunsOnlyAfterTheRegistryIsWritten: what must follow the registry (an
// engine record it no longer points to) never runs when the registry did not change.
func TestUpdateThenRunsOnlyAfterTheRegistryIsWritten(t *testing.T) {
	s := Store{Path: filepath.Join(t.TempDir(), "instances.json")}
	ctx := context.Background()
	add := func(f *File) error {
		f.Instances["x--a"] = &Instance{InstanceID: "x--a", Slot: 1, Path: "/p"}
		return nil
	}
	ran := false
	err := s.UpdateThen(ctx, add, func() {
		ran = true
		f, err := s.Load()
		if err != nil || f.Instances["x--a"] == nil {
			t.Errorf("then ran before the registry held the change: %v", err)
		}
	})
	if err != nil || !ran {
		t.Fatalf("then ran=%v err=%v", ran, err)
	}
	ran = false
	refuse := func(*File) error { return errors.New("no") }
	if err := s.UpdateThen(ctx, refuse, func() { ran = true }); err == nil || ran {
		t.Errorf("a refused update ran then (err %v)", err)
	}
}
