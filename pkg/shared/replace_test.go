package shared

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifest maps every entry under root to a description of its content.
func manifest(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			m[rel] = "link:" + target
		case d.IsDir():
			m[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = "file:" + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameManifest(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReplaceCopiesThenRerunsCheaply(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "shared", "data")
	write(t, filepath.Join(src, "AAPL_1d.csv"), "a,b\n1,2\n")
	write(t, filepath.Join(src, "sub", "deep", "MSFT.csv"), "x")
	if err := os.Symlink("AAPL_1d.csv", filepath.Join(src, "latest")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(src, "sub", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Replace(context.Background(), src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 2 || res.UpToDate || res.Source.Files != 2 {
		t.Fatalf("first run: %+v", res)
	}
	if !sameManifest(manifest(t, src), manifest(t, dst)) {
		t.Fatalf("destination differs:\n%v\n%v", manifest(t, src), manifest(t, dst))
	}

	res, err = Replace(context.Background(), src, dst, nil)
	if err != nil || !res.UpToDate {
		t.Fatalf("re-run over unchanged source: %+v, %v", res, err)
	}

	// A change, an addition and a removal: unchanged files are linked, not copied.
	write(t, filepath.Join(src, "AAPL_1d.csv"), "changed content")
	write(t, filepath.Join(src, "new.csv"), "new")
	if err := os.Remove(filepath.Join(src, "sub", "deep", "MSFT.csv")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "keep.csv"), "k")
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(filepath.Join(src, "keep.csv"), old, old)
	if _, err := Replace(context.Background(), src, dst, nil); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "new2.csv"), "n2")
	res, err = Replace(context.Background(), src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 1 || res.Linked != 3 {
		t.Fatalf("incremental run copied %d and linked %d, want 1 and 3", res.Copied, res.Linked)
	}
	if !sameManifest(manifest(t, src), manifest(t, dst)) {
		t.Fatalf("destination differs after changes:\n%v\n%v", manifest(t, src), manifest(t, dst))
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), tempPrefix+"*"))
	if len(leftovers) != 0 {
		t.Fatalf("work directories left: %v", leftovers)
	}
}

func TestReplaceSkipsSocketsWithANote(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "s"), filepath.Join(dir, "d")
	write(t, filepath.Join(src, "a"), "a")
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	if err != nil {
		t.Skip("no unix sockets here:", err)
	}
	defer l.Close()
	res, err := Replace(context.Background(), src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0] != "sock" {
		t.Fatalf("Skipped = %v", res.Skipped)
	}
	if _, err := os.Stat(filepath.Join(dst, "a")); err != nil {
		t.Fatal(err)
	}
}

// TestUnreadableFileLeavesDestinationUnchanged copies as an unprivileged user (root reads
// every file, so under root the copy runs in a child process as nobody).
func TestUnreadableFileLeavesDestinationUnchanged(t *testing.T) {
	// Not t.TempDir: its parent is private to this user, and the child runs as nobody.
	dir, err := os.MkdirTemp("", "unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	src, dst := filepath.Join(dir, "s"), filepath.Join(dir, "shared", "d")
	write(t, filepath.Join(dst, "old"), "old")
	write(t, filepath.Join(src, "readable"), "r")
	write(t, filepath.Join(src, "secret"), "x")
	if err := os.Chmod(filepath.Join(src, "secret"), 0); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, src, filepath.Dir(dst), dst} {
		_ = os.Chmod(d, 0o777)
	}
	_ = os.Chmod(filepath.Join(dst, "old"), 0o666)
	if os.Geteuid() == 0 {
		bin := filepath.Join(dir, "copier")
		data, rerr := os.ReadFile(os.Args[0])
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestHelperCopyProcess$")
		cmd.Env = append(os.Environ(), "SHARED_HELPER_SRC="+src, "SHARED_HELPER_DST="+dst)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Dir = dir
		out, runErr := cmd.CombinedOutput()
		if errors.Is(runErr, syscall.EPERM) {
			t.Skip("cannot switch to an unprivileged user here:", runErr)
		}
		if runErr == nil {
			t.Fatal("copy of an unreadable file succeeded")
		}
		err = fmt.Errorf("%v: %s", runErr, out)
	} else {
		_, err = Replace(context.Background(), src, dst, nil)
	}
	if err == nil || !strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
	if got := manifest(t, dst); got["old"] != "file:old" || len(got) != 2 {
		t.Fatalf("destination changed: %v", got)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), tempPrefix+"*")); len(left) != 0 {
		t.Fatalf("work directory left: %v", left)
	}
}

func TestCancelledCopyLeavesDestinationUnchanged(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "s"), filepath.Join(dir, "d")
	write(t, filepath.Join(dst, "old"), "old")
	for i := 0; i < 50; i++ {
		write(t, filepath.Join(src, "f", strings.Repeat("x", i+1)), "new")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Replace(ctx, src, dst, nil); err == nil {
		t.Fatal("cancelled copy reported success")
	}
	if got := manifest(t, dst); len(got) != 2 || got["old"] != "file:old" {
		t.Fatalf("destination changed: %v", got)
	}
}

func TestLeftoversOfACrashAreCleaned(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "s"), filepath.Join(dir, "d")
	write(t, filepath.Join(src, "a"), "a")
	stale := filepath.Join(dir, tempPrefix+"d-123")
	write(t, filepath.Join(stale, "new", "half"), "half")
	if _, err := Replace(context.Background(), src, dst, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("leftover of an interrupted run was not removed")
	}
}

func TestIsWithin(t *testing.T) {
	for _, c := range []struct {
		p, base string
		want    bool
	}{
		{"/a/b", "/a", true}, {"/a", "/a", true}, {"/ab", "/a", false}, {"/a/../b", "/a", false}, {"/", "/a", false},
	} {
		if got := IsWithin(c.p, c.base); got != c.want {
			t.Errorf("IsWithin(%q, %q) = %v", c.p, c.base, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1: "1.0 B", 1023: "1023.0 B", 1024: "1.0 KB", 1536: "1.5 KB",
		1 << 20: "1.0 MB", 1288490189: "1.2 GB", 1 << 40: "1.0 TB", 5 << 40: "5.0 TB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestInspect(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "data", "a"), "12345")
	write(t, filepath.Join(root, "data", "x", "b"), "1")
	rep := Inspect(root, []string{"data", "models"})
	if !rep.Initialized || !rep.Subdirs[0].Exists || rep.Subdirs[0].Files != 2 || rep.Subdirs[0].Bytes != 6 || rep.Subdirs[1].Exists {
		t.Fatalf("%+v", rep)
	}
	if Inspect(filepath.Join(root, "nope"), []string{"data"}).Initialized {
		t.Fatal("missing root reported initialized")
	}
}

// BenchmarkMeasure walks 20k files; compare with `du -sb` of the same tree (scripts/bench).
func BenchmarkMeasure(b *testing.B) {
	root := b.TempDir()
	for d := 0; d < 80; d++ {
		dir := filepath.Join(root, strconv.Itoa(d))
		_ = os.MkdirAll(dir, 0o755)
		for f := 0; f < 250; f++ {
			_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(f)), nil, 0o644)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if st, err := Measure(root); err != nil || st.Files != 20000 {
			b.Fatal(st, err)
		}
	}
}

func TestSymlinkedDestinationIsReplacedWhereItPoints(t *testing.T) {
	dir := t.TempDir()
	src, big, dst := filepath.Join(dir, "src"), filepath.Join(dir, "bigdisk", "data"), filepath.Join(dir, "shared", "data")
	write(t, filepath.Join(src, "new.csv"), "new")
	write(t, filepath.Join(big, "old.csv"), "old")
	_ = os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.Symlink(big, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := Replace(context.Background(), src, dst, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(dst); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
	if got := manifest(t, big); got["new.csv"] != "file:new" || len(got) != 2 {
		t.Fatalf("target holds %v", got)
	}
}

// TestLargeFilesAreCopiedSeveralAtOnceBesideSmallOnes: directories of large files are
// copied concurrently and overlap with folders of small files; a folder of small files
// alone is copied one file at a time.
func TestLargeFilesAreCopiedSeveralAtOnceBesideSmallOnes(t *testing.T) {
	file := func(size int64) entry { return entry{mode: 0o644, size: size} }
	dir := entry{mode: fs.ModeDir | 0o755}
	mixed := tree{entries: map[string]entry{
		".": dir, "data": dir, "models": dir, "models/d1": dir, "models/d2": dir,
		"data/a.bin": file(1 << 20), "data/b.bin": file(1 << 20),
		"models/d1/x.json": file(2048), "models/d2/y.json": file(2048), "models/d2/z.json": file(2048),
	}}
	got := mixed.concurrentDirs()
	for d, want := range map[string]bool{".": true, "data": true, "models": true, "models/d1": false, "models/d2": false} {
		if got[d] != want {
			t.Errorf("%s copied concurrently: %v, want %v (all: %v)", d, got[d], want, got)
		}
	}
	smallLeaf := tree{entries: map[string]entry{".": dir, "a.csv": file(100), "b.csv": file(100)}}
	if got := smallLeaf.concurrentDirs(); got["."] {
		t.Errorf("a folder of small files alone: %v", got)
	}
}

// TestConcurrencyReachesIntoOneBigFolder: when one folder holds nearly everything (its
// large and small files in subfolders side by side, a few small files of its own), its
// subfolders are still copied at once, wherever that folder sits; only a folder's own
// small files are copied one at a time.
func TestConcurrencyReachesIntoOneBigFolder(t *testing.T) {
	file := func(size int64) entry { return entry{mode: 0o644, size: size} }
	dir := entry{mode: fs.ModeDir | 0o755}
	oneBig := tree{entries: map[string]entry{
		".": dir, "README": file(300), "market": dir, "market/index.csv": file(100),
		"market/bars1": dir, "market/bars1/a.bin": file(512 << 10), "market/bars1/b.bin": file(512 << 10),
		"market/ticks1": dir, "market/ticks2": dir,
		"market/ticks1/x.csv": file(2048), "market/ticks1/y.csv": file(2048), "market/ticks2/z.csv": file(2048),
	}}
	got := oneBig.concurrentDirs()
	for d, want := range map[string]bool{".": true, "market": true, "market/bars1": true, "market/ticks1": false, "market/ticks2": false} {
		if got[d] != want {
			t.Errorf("%s copied concurrently: %v, want %v (all: %v)", d, got[d], want, got)
		}
	}
}

// What the walk reads relative to an open directory is what Lstat says of each path: the
// copy decides from both (the old tree's entries against the source's infos).
func TestEntryAtAgreesWithLstat(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("data"), 0o640))
	must(os.WriteFile(filepath.Join(dir, "setuid"), nil, 0o755))
	must(os.Chmod(filepath.Join(dir, "setuid"), 0o4755))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o750))
	must(os.Symlink("file", filepath.Join(dir, "link")))
	f, err := os.Open(dir)
	must(err)
	defer f.Close()
	entries, err := f.ReadDir(-1)
	must(err)
	for _, d := range entries {
		got, err := entryAt(f, d)
		must(err)
		fi, err := os.Lstat(filepath.Join(dir, d.Name()))
		must(err)
		if want := entryOf(fi); !got.sameFile(want) {
			t.Errorf("%s: entryAt %+v, Lstat %+v", d.Name(), got, want)
		}
	}
}
