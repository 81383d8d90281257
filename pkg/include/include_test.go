package include

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sync/atomic"

	"github.com/ktrdr/sandbox/pkg/gitx"
)

// repoWith makes a real git repository with a .gitignore, a .worktreeinclude and files.
func repoWith(t *testing.T, gitignore, include string, files map[string]string) (string, gitx.Git) {
	t.Helper()
	dir := t.TempDir()
	home := t.TempDir()
	g := gitx.Git{Env: append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com")}
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".gitignore", gitignore)
	if include != "" {
		write(FileName, include)
	}
	write("tracked.env", "tracked\n")
	ctx := context.Background()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "base"}} {
		if _, err := g.Run(ctx, dir, nil, args...); err != nil {
			t.Fatal(err)
		}
	}
	for rel, content := range files {
		write(rel, content)
	}
	return dir, g
}

func paths(p Plan) string {
	var out []string
	for _, e := range p.Entries {
		out = append(out, filepath.ToSlash(e.Path))
	}
	return strings.Join(out, " ")
}

func TestPlanTakesIgnoredMatchesOnly(t *testing.T) {
	repo, g := repoWith(t, ".env\ncache/\n*.local\n", ".env\ncache/\ntracked.env\nnotes.txt\n*.local\n", map[string]string{
		".env": "SECRET=1\n", "cache/a/b.bin": "bb", "cache/c.bin": "c", "notes.txt": "wip, untracked but not ignored",
		"other.local": "x", "tracked.env": "changed but tracked",
	})
	p, err := MakePlan(context.Background(), g, repo)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(p); got != ".env cache/a/b.bin cache/c.bin other.local" {
		t.Errorf("plan %q: want the ignored matches, never a tracked file or untracked work", got)
	}
	if p.Files != 4 || p.Bytes != int64(len("SECRET=1\n")+2+1+1) {
		t.Errorf("totals %d files %d bytes", p.Files, p.Bytes)
	}
}

func TestNoIncludeFileIsAnEmptyPlan(t *testing.T) {
	repo, g := repoWith(t, ".env\n", "", map[string]string{".env": "x"})
	p, err := MakePlan(context.Background(), g, repo)
	if err != nil || !p.Empty() {
		t.Errorf("%+v %v", p, err)
	}
}

func TestEscapingPatternsAreRefused(t *testing.T) {
	for _, pattern := range []string{"../secrets\n", "cache/../../x\n", "!../y\n"} {
		repo, g := repoWith(t, "cache/\n", pattern, nil)
		_, err := MakePlan(context.Background(), g, repo)
		if !errors.Is(err, ErrEscape) || !strings.Contains(err.Error(), FileName+" line 1") {
			t.Errorf("%q: %v", pattern, err)
		}
	}
}

func TestCopyKeepsLinksAsLinksAndNeverFollowsThemOut(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo, g := repoWith(t, "cache/\n", "cache/\n", map[string]string{"cache/real.bin": "data", "cache/sub/deep.bin": "deep"})
	if err := os.Symlink("real.bin", filepath.Join(repo, "cache", "inside-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(repo, "cache", "outside-dir")); err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(context.Background(), g, repo)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(p); got != "cache/inside-link cache/outside-dir cache/real.bin cache/sub/deep.bin" {
		t.Fatalf("plan %q", got)
	}
	wt := t.TempDir()
	// a tracked file already in the worktree wins over the checkout's copy
	if err := os.MkdirAll(filepath.Join(wt, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wt, "cache", "real.bin"), []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Copy(context.Background(), p, repo, wt, nil, Options{NoReflink: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 || res.Copied != 1 || res.Links != 2 || strings.Join(res.Skipped, "") != filepath.Join("cache", "real.bin") {
		t.Errorf("result %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(wt, "cache", "real.bin")); string(b) != "theirs" {
		t.Error("overwrote a file already in the worktree")
	}
	for link, target := range map[string]string{"inside-link": "real.bin", "outside-dir": outside} {
		got, err := os.Readlink(filepath.Join(wt, "cache", link))
		if err != nil || got != target {
			t.Errorf("%s: %q %v, want a link to %q", link, got, err, target)
		}
	}
	if _, err := os.Lstat(filepath.Join(wt, "cache", "outside-dir", "secret")); err != nil {
		t.Fatal(err) // through the link, as on the source
	}
	if fi, _ := os.Lstat(filepath.Join(wt, "cache", "outside-dir")); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("a link to outside the repository was followed and copied")
	}
	if b, _ := os.ReadFile(filepath.Join(wt, "cache", "sub", "deep.bin")); string(b) != "deep" {
		t.Error("nested file not copied")
	}
}

func TestCopyKeepsModeAndTimeAndStopsWhenCancelled(t *testing.T) {
	repo, g := repoWith(t, "bin/\n", "bin/\n", map[string]string{"bin/tool": "#!/bin/sh\n", "bin/z": "z"})
	if err := os.Chmod(filepath.Join(repo, "bin", "tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(context.Background(), g, repo)
	if err != nil {
		t.Fatal(err)
	}
	wt := t.TempDir()
	if _, err := Copy(context.Background(), p, repo, wt, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	src, _ := os.Stat(filepath.Join(repo, "bin", "tool"))
	dst, _ := os.Stat(filepath.Join(wt, "bin", "tool"))
	if dst.Mode().Perm() != 0o755 || !dst.ModTime().Equal(src.ModTime()) {
		t.Errorf("mode %v time %v, want %v %v", dst.Mode(), dst.ModTime(), src.Mode(), src.ModTime())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Copy(ctx, p, repo, t.TempDir(), nil, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled copy: %v", err)
	}
}

// reflinkSupported probes the temp filesystem with one clone through the portable
// function the copy uses.
func reflinkSupported(t *testing.T, dir string) bool {
	a, b := filepath.Join(dir, "probe-a"), filepath.Join(dir, "probe-b")
	_ = os.WriteFile(a, []byte("probe"), 0o644)
	defer os.Remove(b)
	return cloneFile(a, b, 0o644) == nil
}

// TestCloneFileSaysWhenItCannot pins the contract every OS's cloneFile keeps: it either
// makes dst with src's content, or says errNoClone and leaves no dst behind; a plain
// copy then follows, and the rest of the copy stops asking.
func TestCloneFileSaysWhenItCannot(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("content"), 0o640); err != nil {
		t.Fatal(err)
	}
	switch err := cloneFile(src, dst, 0o640); {
	case err == nil:
		if b, _ := os.ReadFile(dst); string(b) != "content" {
			t.Errorf("clone holds %q", b)
		}
	case errors.Is(err, errNoClone):
		if _, serr := os.Lstat(dst); !os.IsNotExist(serr) {
			t.Errorf("an unsupported clone left %s behind (%v)", dst, serr)
		}
	default:
		t.Fatalf("cloneFile: %v", err)
	}
	_ = os.Remove(dst)
	var reflink atomic.Bool
	reflink.Store(true)
	cloned, err := copyFile(src, dst, 0o640, &reflink)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "content" {
		t.Errorf("copy holds %q", b)
	}
	if !cloned && reflink.Load() {
		t.Error("a filesystem that cannot clone is asked again for every file")
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestCopyClonesWhereTheFilesystemCan(t *testing.T) {
	repo, g := repoWith(t, "cache/\n", "cache/\n", map[string]string{"cache/a": strings.Repeat("a", 1<<16)})
	if !reflinkSupported(t, repo) {
		t.Skipf("block cloning is not supported where the test's temp files live (%s); the copy path is what runs here", repo)
	}
	p, err := MakePlan(context.Background(), g, repo)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Copy(context.Background(), p, repo, t.TempDir(), nil, Options{})
	if err != nil || res.Reflinked != 1 || res.Copied != 0 {
		t.Errorf("%+v %v", res, err)
	}
}
