package shared

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
)

// Stats is the size and regular-file count of a tree.
type Stats struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Measure walks dir and totals its regular files. Subdirectories are walked in parallel:
// on a cold cache the time is spent waiting on the disk, and more requests in flight
// finish sooner.
func Measure(dir string) (Stats, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return Stats{}, err
	}
	if !fi.IsDir() {
		return Stats{}, fmt.Errorf("%s is not a directory", dir)
	}
	var files, bytes atomic.Int64
	err = eachDir(dir, func(_ string, f *os.File, entries []fs.DirEntry) error {
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			// Stat relative to the open directory, as du does: no path to resolve.
			en, err := entryAt(f, e)
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we looked
			}
			if err != nil {
				return err
			}
			files.Add(1)
			bytes.Add(en.size)
		}
		return nil
	})
	return Stats{Files: files.Load(), Bytes: bytes.Load()}, err
}

// eachDir calls visit for root and every directory below it (symlinks are not followed),
// with the directory's path relative to root (root's is "."), the directory open, and its
// entries. Several directories are read at once: a walk mostly waits on the filesystem,
// and on a warm cache the kernel's work spreads over the cores. visit runs concurrently
// with itself; the first error is returned, after the walk.
func eachDir(root string, visit func(rel string, dir *os.File, entries []fs.DirEntry) error) error {
	var firstErr error
	var errOnce sync.Once
	setErr := func(err error) { errOnce.Do(func() { firstErr = err }) }
	sem := make(chan struct{}, 4*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	var walk func(rel string)
	walk = func(rel string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		f, err := os.Open(filepath.Join(root, rel))
		if err != nil {
			setErr(err)
			return
		}
		defer f.Close()
		entries, err := f.ReadDir(-1)
		if err != nil {
			setErr(err)
			return
		}
		for _, e := range entries {
			if e.IsDir() {
				wg.Add(1)
				go walk(filepath.Join(rel, e.Name()))
			}
		}
		if err := visit(rel, f, entries); err != nil {
			setErr(err)
		}
	}
	wg.Add(1)
	walk(".")
	wg.Wait()
	return firstErr
}

// FormatSize renders bytes with one decimal in steps of 1024: "0 B", "512.0 B", "1.2 GB".
func FormatSize(n int64) string {
	if n == 0 {
		return "0 B"
	}
	units := []string{"B", "KB", "MB", "GB"}
	v := float64(n)
	for _, u := range units {
		if v < 1024 {
			return fmt.Sprintf("%.1f %s", v, u)
		}
		v /= 1024
	}
	return fmt.Sprintf("%.1f TB", v)
}

// SubdirReport is one shared subdirectory's state.
type SubdirReport struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Stats
	Error string `json:"error,omitempty"`
}

// Report is the state of the shared-data directory.
type Report struct {
	Path        string         `json:"path"`
	Initialized bool           `json:"initialized"`
	Subdirs     []SubdirReport `json:"subdirs"`
}

// Inspect reports on root and each named subdirectory, measuring them in parallel.
func Inspect(root string, names []string) Report {
	rep := Report{Path: root}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return rep
	}
	rep.Initialized = true
	rep.Subdirs = make([]SubdirReport, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := SubdirReport{Name: name, Path: filepath.Join(root, name)}
			st, err := Measure(r.Path)
			switch {
			case errors.Is(err, fs.ErrNotExist) && st == (Stats{}):
			case err != nil:
				r.Exists, r.Stats, r.Error = true, st, err.Error()
			default:
				r.Exists, r.Stats = true, st
			}
			rep.Subdirs[i] = r
		}()
	}
	wg.Wait()
	return rep
}
