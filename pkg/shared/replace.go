package shared

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// A destination that is a symlink (data kept on another disk) is replaced where it
	// points; swapping the link itself would silently move the data home.
	if fi, err := os.Lstat(dst); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(dst)
		if err != nil {
			return res, fmt.Errorf("%s is a symlink whose target is missing: %w", dst, err)
		}
		dst = target
	}
	if err := cleanLeftovers(dst); err != nil {
		return res, err
	}
	srcTree, err := scan(src)
	if err != nil {
		return res, describeCopyError(err)
	}
	res.Source = srcTree.stats
	if prog != nil {
		prog.Start(srcTree.stats)
		defer prog.Finish()
	}
	var old *tree
	if t, err := scan(dst); err == nil {
		if srcTree.equal(t) {
			res.UpToDate = true
			return res, nil
		}
		old = &t
	}

	tmp, err := os.MkdirTemp(filepath.Dir(dst), tempPrefix+filepath.Base(dst)+"-")
	if err != nil {
		return res, fmt.Errorf("create work directory beside %s: %w", dst, err)
	}
	defer os.RemoveAll(tmp) // after a successful swap it holds the old content
	work := filepath.Join(tmp, "new")

	var linked, copied atomic.Int64
	var skippedMu sync.Mutex
	err = cp.Copy(src, work, cp.Options{
		OnSymlink:     func(string) cp.SymlinkAction { return cp.Shallow },
		PreserveTimes: true,
		NumOfWorkers:  workersFor(srcTree.stats),
		Skip: func(info os.FileInfo, s, d string) (bool, error) {
			if err := ctx.Err(); err != nil {
				return true, err
			}
			rel, _ := filepath.Rel(src, s)
			mode := info.Mode()
			switch {
			case info.IsDir() || mode&fs.ModeSymlink != 0:
				return false, nil
			case !mode.IsRegular():
				skippedMu.Lock()
				res.Skipped = append(res.Skipped, rel)
				skippedMu.Unlock()
				return true, nil
			}
			if old != nil {
				if prev, ok := old.entries[rel]; ok && prev.sameFile(entryOf(info)) {
					if err := os.Link(filepath.Join(dst, rel), d); err == nil {
						linked.Add(1)
						if prog != nil {
							prog.Add(info.Size())
						}
						return true, nil
					}
				}
			}
			copied.Add(1)
			return false, nil
		},
		WrapReader: func(r io.Reader) io.Reader { return &countingReader{ctx: ctx, r: r, prog: prog} },
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return res, describeCopyError(err)
	}
	res.Linked, res.Copied = linked.Load(), copied.Load()
	if err := swap(work, dst); err != nil {
		return res, err
	}
	res.Destroyed = old != nil
	return res, nil
}

// workersFor picks how many files to copy at once. Large files are copied by the kernel
// (copy_file_range) and several in flight use every core; small files are dominated by
// metadata updates that contend on the filesystem journal, so one at a time is faster
// (measured by scripts/bench: see docs/decisions.md).
func workersFor(st Stats) int64 {
	if st.Files == 0 || st.Bytes/st.Files < 256<<10 {
		return 1
	}
	return int64(2 * runtime.GOMAXPROCS(0))
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
	t := tree{entries: map[string]entry{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := entryOf(fi)
		switch {
		case d.IsDir():
			e.mtime = time.Time{}
		case d.Type()&fs.ModeSymlink != 0:
			e.mtime = time.Time{} // a copied link gets a new mtime; its target is what matters
			if e.target, err = os.Readlink(p); err != nil {
				return err
			}
		case d.Type().IsRegular():
			t.stats.Files++
			t.stats.Bytes += fi.Size()
		}
		t.entries[rel] = e
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
