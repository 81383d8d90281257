package shared

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cp "github.com/otiai10/copy"
)

// Progress receives the bytes done so far of a copy, from any goroutine.
type Progress interface {
	Start(total Stats)
	Add(bytes int64)
	Finish()
}

// ReplaceResult says what Replace did.
type ReplaceResult struct {
	Source    Stats
	UpToDate  bool     // destination already equal: nothing written
	Linked    int64    // unchanged files reused from the old destination (no content copied)
	Copied    int64    // files whose content was copied
	Skipped   []string // sockets, devices and other files that cannot be copied
	Destroyed bool     // an old destination was replaced
}

// tempPrefix marks work directories beside the destination; anything carrying it is
// left from an interrupted run and is removed by the next.
const tempPrefix = ".sandbox-tmp-"

// Replace makes dst equal to src without ever exposing a mixture: the new tree is built
// in a sibling directory and swapped in with one atomic rename, so at every instant dst
// is its complete old content or its complete new content. Files whose size, mode and
// modification time match the old destination are hard-linked rather than copied, and
// when nothing differs nothing is written at all, so a re-run over unchanged data takes
// only the time to compare the two trees' metadata.
func Replace(ctx context.Context, src, dst string, prog Progress) (ReplaceResult, error) {
	var res ReplaceResult
	dst, err := followDestinationLink(dst)
	if err != nil {
		return res, err
	}
	if err := cleanLeftovers(dst); err != nil {
		return res, err
	}
	srcTree, dstTree, err := scanBoth(src, dst)
	if err != nil {
		return res, describeCopyError(err)
	}
	res.Source = srcTree.stats
	if prog != nil {
		prog.Start(srcTree.stats)
		defer prog.Finish()
	}
	if dstTree != nil && srcTree.equal(*dstTree) {
		res.UpToDate = true
		return res, nil
	}
	if err := rebuildAndSwap(ctx, src, dst, srcTree, dstTree, prog, &res); err != nil {
		return res, err
	}
	res.Destroyed = dstTree != nil
	return res, nil
}

// scanBoth scans src and the old destination side by side: a re-run over unchanged data
// is nothing but these two walks. The destination's tree is nil when it cannot be read
// (there is then nothing to compare or reuse).
func scanBoth(src, dst string) (tree, *tree, error) {
	var dstTree *tree
	done := make(chan struct{})
	go func() {
		defer close(done)
		if t, err := scan(dst); err == nil {
			dstTree = &t
		}
	}()
	srcTree, err := scan(src)
	<-done
	return srcTree, dstTree, err
}

// followDestinationLink returns where dst points when it is a symlink (data kept on
// another disk), and dst itself otherwise. The target is what gets replaced: swapping the
// link itself would silently move the data home.
func followDestinationLink(dst string) (string, error) {
	fi, err := os.Lstat(dst)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return dst, nil
	}
	target, err := filepath.EvalSymlinks(dst)
	if err != nil {
		return dst, fmt.Errorf("%s is a symlink whose target is missing: %w", dst, err)
	}
	return target, nil
}

// rebuildAndSwap builds the new tree in a work directory beside dst (same filesystem, so
// the swap is a rename and unchanged files can be hard-linked) and swaps it into place,
// filling res's Skipped, Linked and Copied. Until the swap dst is untouched, so any
// failure before it leaves the old content whole.
func rebuildAndSwap(ctx context.Context, src, dst string, srcTree tree, old *tree, prog Progress, res *ReplaceResult) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), tempPrefix+filepath.Base(dst)+"-")
	if err != nil {
		return fmt.Errorf("create work directory beside %s: %w", dst, err)
	}
	defer os.RemoveAll(tmp) // after a successful swap it holds the old content
	work := filepath.Join(tmp, "new")

	c := &workCopy{ctx: ctx, src: src, dst: dst, old: old, prog: prog}
	err = c.run(work, workersFor(srcTree.stats), srcTree.concurrentDirs())
	res.Skipped = c.skipped
	if err != nil {
		return err
	}
	res.Linked, res.Copied = c.linked.Load(), c.copied.Load()
	return swap(work, dst)
}

// workCopy is one copy of src into a work directory. The library calls its skip hook from
// several copy workers at once, hence the atomic counters and the lock on skipped.
type workCopy struct {
	ctx  context.Context
	src  string
	dst  string // the destination being replaced, where unchanged files are linked from
	old  *tree  // dst's entries; nil when there is nothing to reuse
	prog Progress

	linked, copied atomic.Int64
	skippedMu      sync.Mutex
	skipped        []string
}

// run copies src into work, keeping symlinks as symlinks and modification times as they
// are (the next run compares them). A context that ended during the copy fails it even
// when the library returned no error: the work tree may be incomplete.
func (c *workCopy) run(work string, workers int64, concurrent map[string]bool) error {
	err := cp.Copy(c.src, work, cp.Options{
		OnSymlink:     func(string) cp.SymlinkAction { return cp.Shallow },
		PreserveTimes: true,
		NumOfWorkers:  workers,
		PreferConcurrent: func(srcdir, _ string) (bool, error) {
			rel, _ := filepath.Rel(c.src, srcdir)
			return concurrent[rel], nil
		},
		Skip:       c.skip,
		WrapReader: func(r io.Reader) io.Reader { return &countingReader{ctx: c.ctx, r: r, prog: c.prog} },
	})
	if err == nil {
		err = c.ctx.Err()
	}
	if err != nil {
		return describeCopyError(err)
	}
	return nil
}

// skip decides, for each entry of src, whether the library copies it: directories and
// symlinks always, sockets, devices and the like never (they are noted instead), and a
// regular file only when it cannot be linked from the old destination.
func (c *workCopy) skip(info os.FileInfo, s, d string) (bool, error) {
	if err := c.ctx.Err(); err != nil {
		return true, err
	}
	rel, _ := filepath.Rel(c.src, s)
	mode := info.Mode()
	switch {
	case info.IsDir() || mode&fs.ModeSymlink != 0:
		return false, nil
	case !mode.IsRegular():
		c.skippedMu.Lock()
		c.skipped = append(c.skipped, rel)
		c.skippedMu.Unlock()
		return true, nil
	}
	if c.linkUnchanged(info, rel, d) {
		return true, nil
	}
	c.copied.Add(1)
	return false, nil
}

// linkUnchanged hard-links d to the old destination's rel when their size, mode and
// modification time match, and reports whether it did; when the link fails the file is
// simply copied.
func (c *workCopy) linkUnchanged(info os.FileInfo, rel, d string) bool {
	if c.old == nil {
		return false
	}
	prev, ok := c.old.entries[rel]
	if !ok || !prev.sameFile(entryOf(info)) {
		return false
	}
	if err := os.Link(filepath.Join(c.dst, rel), d); err != nil {
		return false
	}
	c.linked.Add(1)
	if c.prog != nil {
		c.prog.Add(info.Size())
	}
	return true
}

// workersFor picks how many large files to copy at once: the kernel copies their bytes
// (copy_file_range) and several in flight use every core and the disk's queue.
func workersFor(st Stats) int64 {
	if st.Files == 0 {
		return 1
	}
	return int64(2 * runtime.GOMAXPROCS(0))
}

// largeFile is the average file size from which a directory's own files are copied
// several at a time. Below it a copy is metadata updates, and files created in one
// directory queue on that directory's lock, so one at a time is as fast (measured by
// scripts/bench: see docs/decisions.md).
const largeFile = 256 << 10

// concurrentDirs says which directories (relative to the root) have their entries copied
// at once: every directory that holds subdirectories, so that the parts of a tree (a folder
// of large files beside folders of small ones) overlap however deep they sit, and every
// directory whose own files average large. Only a folder of small files with no folders
// inside is copied one file at a time.
//
// Deciding from a directory's whole subtree instead (its average file size) serialised
// everything below a folder that mixes large and small files: such a folder averages
// small, so its subfolders were copied one after another, large ones included.
func (t tree) concurrentDirs() map[string]bool {
	type content struct {
		files, bytes int64
		subdirs      bool
	}
	dirs := map[string]*content{}
	of := func(dir string) *content {
		if dirs[dir] == nil {
			dirs[dir] = &content{}
		}
		return dirs[dir]
	}
	for rel, e := range t.entries {
		switch {
		case rel == ".":
		case e.mode.IsDir():
			of(filepath.Dir(rel)).subdirs = true
		case e.mode.IsRegular():
			c := of(filepath.Dir(rel))
			c.files++
			c.bytes += e.size
		}
	}
	out := map[string]bool{}
	for dir, c := range dirs {
		out[dir] = c.subdirs || (c.files > 0 && c.bytes/c.files >= largeFile)
	}
	return out
}

// countingReader reports progress and stops the copy when the context ends. Its WriteTo
// hands the file to the destination in chunks so the kernel still copies the bytes
// (copy_file_range) instead of this process reading and writing them.
type countingReader struct {
	ctx  context.Context
	r    io.Reader
	prog Progress
}

const chunk = 8 << 20

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if c.prog != nil && n > 0 {
		c.prog.Add(int64(n))
	}
	return n, err
}

func (c *countingReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := c.ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.CopyN(w, c.r, chunk)
		total += n
		if c.prog != nil && n > 0 {
			c.prog.Add(n)
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func describeCopyError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot copy %s: %v (the destination was not changed)", pe.Path, pe.Err)
	}
	return fmt.Errorf("copy failed: %w (the destination was not changed)", err)
}

// cleanLeftovers removes work directories of interrupted runs beside dst.
func cleanLeftovers(dst string) error {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(dst), tempPrefix+filepath.Base(dst)+"-*"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil {
			return fmt.Errorf("remove leftover %s: %w", m, err)
		}
	}
	return nil
}

// entry is what decides whether a file changed: type, permissions, size, mtime, and a
// symlink's target.
type entry struct {
	mode   fs.FileMode
	size   int64
	mtime  time.Time
	target string
}

func entryOf(fi fs.FileInfo) entry {
	e := entry{mode: fi.Mode(), mtime: fi.ModTime()}
	if fi.Mode().IsRegular() {
		e.size = fi.Size()
	}
	return e
}

func (e entry) sameFile(o entry) bool {
	return e.mode == o.mode && e.size == o.size && e.mtime.Equal(o.mtime)
}

type tree struct {
	entries map[string]entry
	stats   Stats
}

// scan records every entry under root by relative path; directories compare by mode only
// (their mtimes change whenever we create one).
func scan(root string) (tree, error) {
	fi, err := os.Stat(root) // walked through a link, as the copy reads it
	if err != nil {
		return tree{}, err
	}
	t := tree{entries: map[string]entry{".": {mode: fi.Mode()}}}
	var mu sync.Mutex
	err = eachDir(root, func(rel string, dir *os.File, entries []fs.DirEntry) error {
		found := make(map[string]entry, len(entries))
		var files, bytes int64
		for _, d := range entries {
			p := filepath.Join(rel, d.Name())
			e, err := entryAt(dir, d)
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				e.mtime = time.Time{}
			case d.Type()&fs.ModeSymlink != 0:
				e.mtime = time.Time{} // a copied link gets a new mtime; its target is what matters
				if e.target, err = os.Readlink(filepath.Join(root, p)); err != nil {
					return err
				}
			case d.Type().IsRegular():
				files++
				bytes += e.size
			}
			found[p] = e
		}
		mu.Lock()
		defer mu.Unlock()
		maps.Copy(t.entries, found)
		t.stats.Files += files
		t.stats.Bytes += bytes
		return nil
	})
	return t, err
}

func (t tree) equal(o tree) bool {
	if len(t.entries) != len(o.entries) {
		return false
	}
	for rel, e := range t.entries {
		oe, ok := o.entries[rel]
		if !ok || !e.sameFile(oe) || e.target != oe.target {
			return false
		}
	}
	return true
}

// IsWithin reports whether p is base or inside it, after resolving symlinks.
func IsWithin(p, base string) bool {
	p, base = resolve(p), resolve(base)
	rel, err := filepath.Rel(base, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func resolve(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}
