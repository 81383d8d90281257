package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			rel += "=" + string(b)
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

func write(t *testing.T, p, s string) {
	t.Helper()
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSwapReplacesTheContent(t *testing.T) {
	v := t.TempDir()
	write(t, filepath.Join(v, "old.txt"), "old")
	write(t, filepath.Join(v, "sub", "a"), "old-a")
	if err := stage(v); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(v, staging, "v", "new.txt"), "new")
	write(t, filepath.Join(v, staging, "v", "sub", "a"), "new-a")
	if err := swap(v); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, v); got != "new.txt=new sub sub/a=new-a" {
		t.Errorf("after swap: %s", got)
	}
}

// A crash after the old entries moved aside and some new ones moved in: the next run
// finishes, and never moves the new entries aside.
func TestSwapFinishesAfterACrashInEachPhase(t *testing.T) {
	for _, crashAfterOld := range []bool{false, true} {
		v := t.TempDir()
		write(t, filepath.Join(v, "old.txt"), "old")
		if err := stage(v); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(v, staging, "v", "new1"), "1")
		write(t, filepath.Join(v, staging, "v", "new2"), "2")
		st := filepath.Join(v, staging)
		if crashAfterOld {
			// phase new: old moved aside, new1 already in place
			_ = os.MkdirAll(filepath.Join(st, "old"), 0o700)
			_ = os.Rename(filepath.Join(v, "old.txt"), filepath.Join(st, "old", "old.txt"))
			_ = os.Rename(filepath.Join(st, "v", "new1"), filepath.Join(v, "new1"))
			write(t, filepath.Join(st, "phase"), "new")
		} else {
			write(t, filepath.Join(st, "phase"), "old")
		}
		// the next restore stages again: it finishes the swap under way first
		if err := stage(v); err != nil {
			t.Fatal(err)
		}
		if got := tree(t, v); got != staging+" new1=1 new2=2" {
			t.Errorf("crash after old=%v: %s", crashAfterOld, got)
		}
	}
}

func TestSwapWithNothingStagedChangesNothing(t *testing.T) {
	v := t.TempDir()
	write(t, filepath.Join(v, "keep"), "k")
	if err := os.Mkdir(filepath.Join(v, staging), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := swap(v); err == nil {
		t.Fatal("swap without staged content succeeded")
	}
	if got := tree(t, v); got != staging+" keep=k" {
		t.Errorf("%s", got)
	}
}
