//go:build !windows

package main

import (
	"bufio"
	"fmt"
	"io"
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
		if got := tree(t, v); got != staging+" "+staging+"/v new1=1 new2=2" { // staged again: an empty v awaits the next tar
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

// serve swaps only on an explicit request: the end of its input (the tool killed after
// staging) leaves the volume's data as it was.
func TestServeSwapsOnlyWhenAsked(t *testing.T) {
	run := func(v string, request string) (string, error) {
		t.Helper()
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() { err := serve(v, inR, outW); outW.Close(); done <- err }()
		lines := bufio.NewReader(outR)
		if l, _ := lines.ReadString('\n'); l != "ready\n" {
			t.Fatalf("serve said %q before the copy", l)
		}
		// the staging area exists once ready is printed: the tool copies into it
		write(t, filepath.Join(v, staging, "v", "new.txt"), "new")
		if request != "" {
			_, _ = io.WriteString(inW, request)
		}
		inW.Close()
		rest, _ := io.ReadAll(lines)
		return string(rest), <-done
	}
	v := t.TempDir()
	write(t, filepath.Join(v, "old.txt"), "old")
	said, err := run(v, "")
	if err != nil || said != "" || !strings.Contains(tree(t, v), "old.txt=old") || strings.Contains(tree(t, v), "new.txt=new sub") {
		t.Fatalf("end of input: %v %q, volume %s", err, said, tree(t, v))
	}
	if got := tree(t, v); strings.HasPrefix(got, "new.txt") {
		t.Fatalf("end of input swapped: %s", got)
	}
	said, err = run(v, "swap\n")
	if err != nil || said != "swapped\n" || tree(t, v) != "new.txt=new" {
		t.Fatalf("swap: %v %q, volume %s", err, said, tree(t, v))
	}
}

func TestStatfsPrintsSizeAndFree(t *testing.T) {
	var out strings.Builder
	if err := statfs(t.TempDir(), &out); err != nil {
		t.Fatal(err)
	}
	var total, free uint64
	if n, _ := fmt.Sscanf(out.String(), "%d %d", &total, &free); n != 2 || total == 0 || free > total {
		t.Errorf("%q", out.String())
	}
}

// TestASnapshotHoldingAStagingDirectoryRestores: a snapshot taken while a staging
// directory was in the volume (a restore killed before it was cleared) carries one; the
// restore must not trip on it (it did: "rename …: file exists" on every attempt), and
// the data it puts in place holds none.
func TestASnapshotHoldingAStagingDirectoryRestores(t *testing.T) {
	v := t.TempDir()
	write(t, filepath.Join(v, "old.txt"), "old")
	if err := stage(v); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(v, staging, "v", "new.txt"), "new")
	write(t, filepath.Join(v, staging, "v", staging, "leftover"), "x")
	if err := swap(v); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, v); got != "new.txt=new" {
		t.Errorf("after swap: %s", got)
	}
}
