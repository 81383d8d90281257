package include

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// FileName is the include file at the repository root.
const FileName = ".worktreeinclude"

// Git runs git in a directory and returns its standard output; gitx.Git's Output in
// production.
type Git interface {
	Run(ctx context.Context, dir string, stdin []byte, args ...string) (string, error)
}

// Entry is one path to copy, relative to the repository root.
type Entry struct {
	Path    string
	Mode    fs.FileMode
	Size    int64
	Symlink bool
}

// Plan is what a copy will do.
type Plan struct {
	Entries []Entry
	Files   int   // regular files
	Links   int   // symlinks
	Bytes   int64 // of the regular files
}

// Empty reports a plan with nothing to copy.
func (p Plan) Empty() bool { return len(p.Entries) == 0 }

// ErrEscape is wrapped by the error of an include pattern or path leading outside the
// repository.
var ErrEscape = errors.New("leads outside the repository")

// MakePlan reads repo's include file (none: an empty plan) and asks git which untracked
// files its patterns match, keeping only those the repository itself ignores.
func MakePlan(ctx context.Context, git Git, repo string) (Plan, error) {
	file := filepath.Join(repo, FileName)
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return Plan{}, nil
	}
	if err != nil {
		return Plan{}, fmt.Errorf("read %s: %w", file, err)
	}
	if err := refuseEscapingPatterns(file, data); err != nil {
		return Plan{}, err
	}
	paths, err := ignoredMatches(ctx, git, repo, file)
	if err != nil {
		return Plan{}, err
	}
	return planFor(repo, paths)
}

// refuseEscapingPatterns rejects any pattern of the include file with a ".." step, which
// could name files outside the repository.
func refuseEscapingPatterns(file string, data []byte) error {
	for i, line := range strings.Split(string(data), "\n") {
		pattern := strings.TrimSpace(line)
		if pattern == "" || strings.HasPrefix(pattern, "#") {
			continue
		}
		for _, part := range strings.Split(strings.TrimPrefix(pattern, "!"), "/") {
			if part == ".." {
				return fmt.Errorf("%s line %d: %q %w", file, i+1, pattern, ErrEscape)
			}
		}
	}
	return nil
}

// ignoredMatches lists, as git prints them, the untracked files the include file's
// patterns match that the repository also ignores.
func ignoredMatches(ctx context.Context, git Git, repo, file string) ([]string, error) {
	// Untracked files matching the include patterns: git reads them as an exclude list,
	// so --ignored lists exactly what they match, and never a tracked file.
	out, err := git.Run(ctx, repo, nil, "ls-files", "-z", "--others", "--ignored", "--exclude-from="+file)
	if err != nil {
		return nil, fmt.Errorf("list files %s names: %w", FileName, err)
	}
	candidates := splitZ(out)
	if len(candidates) == 0 {
		return nil, nil
	}
	// Of those, only what the repository ignores: an untracked file it does not ignore is
	// work in progress, not local setup.
	ignored, err := git.Run(ctx, repo, []byte(strings.Join(candidates, "\x00")+"\x00"), "check-ignore", "-z", "--stdin")
	var ee *execx.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Code == 1) { // 1: none of them is ignored
		return nil, fmt.Errorf("check which files git ignores: %w", err)
	}
	return splitZ(ignored), nil
}

// planFor makes the plan of paths relative to repo, sorted, refusing any that leads out
// of it. Only regular files and symlinks are kept: sockets, devices and fifos have
// nothing to copy, and a path gone since git listed it is passed over.
func planFor(repo string, paths []string) (Plan, error) {
	var p Plan
	for _, rel := range paths {
		clean := filepath.Clean(filepath.FromSlash(rel))
		if leavesRepository(clean) {
			return Plan{}, fmt.Errorf("%s %w", rel, ErrEscape)
		}
		fi, err := os.Lstat(filepath.Join(repo, clean))
		if err != nil {
			continue // gone since git listed it
		}
		e := Entry{Path: clean, Mode: fi.Mode()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Symlink = true
			p.Links++
		case fi.Mode().IsRegular():
			e.Size = fi.Size()
			p.Files++
			p.Bytes += fi.Size()
		default:
			continue // sockets, devices, fifos: nothing to copy
		}
		p.Entries = append(p.Entries, e)
	}
	sort.Slice(p.Entries, func(i, j int) bool { return p.Entries[i].Path < p.Entries[j].Path })
	return p, nil
}

// leavesRepository reports whether a cleaned relative path points outside the
// repository it is relative to.
func leavesRepository(clean string) bool {
	return clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) || filepath.IsAbs(clean)
}

func splitZ(s string) []string {
	var out []string
	for _, f := range strings.Split(s, "\x00") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Result is what a copy did.
type Result struct {
	Files     int      // regular files written
	Bytes     int64    // their size
	Reflinked int      // of them, cloned (blocks shared with the source)
	Copied    int      // of them, copied byte for byte
	Links     int      // symlinks recreated
	Skipped   []string // already present in the worktree (a tracked file wins)
}

// Options tune a copy.
type Options struct {
	// NoReflink copies every file byte for byte (tests use it to exercise that path).
	NoReflink bool
}

// Copy copies the plan's entries from the checkout at from into the worktree at to,
// never overwriting a path that exists there, checking ctx between files. Regular files
// are copied by a few workers at once: on a warm cache the copy is CPU-bound in the
// kernel, and two cores finish sooner than one.
func Copy(ctx context.Context, p Plan, from, to string, prog shared.Progress, o Options) (Result, error) {
	if prog == nil {
		prog = nopProgress{}
	}
	prog.Start(shared.Stats{Files: int64(p.Files), Bytes: p.Bytes})
	defer prog.Finish()
	var res Result
	files, err := placeLinksAndListFiles(ctx, p, from, to, &res)
	if err != nil {
		return res, err
	}
	err = copyFiles(ctx, files, from, to, prog, o, &res)
	return res, err
}

// placeLinksAndListFiles goes through the plan in order: it passes over every path the
// worktree already has (noting it in res.Skipped: a tracked file wins), makes the parent
// directories of the rest, recreates symlinks as symlinks (their targets are never
// followed), and returns the regular files left for the copy workers.
func placeLinksAndListFiles(ctx context.Context, p Plan, from, to string, res *Result) ([]Entry, error) {
	var files []Entry
	for _, e := range p.Entries {
		if err := ctx.Err(); err != nil {
			return files, err
		}
		dst := filepath.Join(to, e.Path)
		if _, err := os.Lstat(dst); err == nil {
			res.Skipped = append(res.Skipped, e.Path)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return files, err
		}
		if !e.Symlink {
			files = append(files, e)
			continue
		}
		if err := copyLink(filepath.Join(from, e.Path), dst); err != nil {
			return files, err
		}
		res.Links++
	}
	return files, nil
}

// copyLink makes dst a symlink with src's target, as written.
func copyLink(src, dst string) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	return os.Symlink(target, dst)
}

// Workers is how many files are copied at once.
var Workers = 4

// fileCopier copies regular files on Workers goroutines and tallies them into res. After
// the first failure no further file is handed out, and that failure is the one reported.
type fileCopier struct {
	from, to string
	prog     shared.Progress
	canClone atomic.Bool // turned off by the first file the filesystem cannot clone

	mu       sync.Mutex // guards res and firstErr
	res      *Result
	firstErr error
}

// copyFiles copies files from the checkout at from into the worktree at to, on Workers
// goroutines, until all are copied, one fails, or ctx ends.
func copyFiles(ctx context.Context, files []Entry, from, to string, prog shared.Progress, o Options, res *Result) error {
	c := &fileCopier{from: from, to: to, prog: prog, res: res}
	c.canClone.Store(!o.NoReflink)
	var wg sync.WaitGroup
	next := make(chan Entry)
	for w := 0; w < Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				c.copy(e)
			}
		}()
	}
	c.feed(ctx, files, next)
	close(next)
	wg.Wait()
	if c.firstErr != nil {
		return c.firstErr
	}
	return ctx.Err()
}

// feed hands files to the workers one by one, stopping early when a copy has failed or
// ctx ends.
func (c *fileCopier) feed(ctx context.Context, files []Entry, next chan<- Entry) {
	for _, e := range files {
		if c.failed() {
			return
		}
		select {
		case next <- e:
		case <-ctx.Done():
			return
		}
	}
}

func (c *fileCopier) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstErr != nil
}

// copy copies one file, records the outcome and reports the file's size as done, copied
// or not.
func (c *fileCopier) copy(e Entry) {
	cloned, err := copyFile(filepath.Join(c.from, e.Path), filepath.Join(c.to, e.Path), e.Mode, &c.canClone)
	c.record(e, cloned, err)
	c.prog.Add(e.Size)
}

// record counts a copied file, or keeps the error when it is the first.
func (c *fileCopier) record(e Entry, cloned bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil && c.firstErr == nil:
		c.firstErr = fmt.Errorf("copy %s: %w", e.Path, err)
	case err == nil:
		c.res.Files++
		c.res.Bytes += e.Size
		if cloned {
			c.res.Reflinked++
		} else {
			c.res.Copied++
		}
	}
}

// copyFile clones src into a new dst when *reflink (and turns it off for the rest of the
// copy when the filesystem cannot), copies the bytes otherwise, and keeps mode and mtime.
func copyFile(src, dst string, mode fs.FileMode, reflink *atomic.Bool) (cloned bool, err error) {
	if reflink.Load() {
		switch err := cloneFile(src, dst, mode.Perm()); {
		case err == nil:
			return true, keepModeAndTime(src, dst, mode)
		case errors.Is(err, errNoClone):
			reflink.Store(false) // this filesystem cannot share blocks; stop asking
		default:
			return false, err
		}
	}
	return false, plainCopy(src, dst, mode)
}

// errNoClone says the filesystem cannot share blocks between these two files; dst was
// not created.
var errNoClone = errors.New("block cloning not supported here")

// plainCopy copies src's bytes into a new dst (copy_file_range where the kernel has it).
func plainCopy(src, dst string, mode fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(dst)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return keepModeAndTime(src, dst, mode)
}

func keepModeAndTime(src, dst string, mode fs.FileMode) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	_ = os.Chmod(dst, mode.Perm())
	_ = os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	return nil
}

type nopProgress struct{}

func (nopProgress) Start(shared.Stats) {}
func (nopProgress) Add(int64)          {}
func (nopProgress) Finish()            {}
