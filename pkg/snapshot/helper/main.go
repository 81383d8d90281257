//go:build !windows

// The helper only ever runs inside a Linux container; it is vetted on the Unixes.

// Command sandbox-helper runs inside the snapshot helper container, which the sandbox tool
// builds locally from this file (FROM scratch, one static binary: nothing is pulled). The
// tool streams volume content in and out with `docker cp`; this program only does what
// must happen inside the volume: wait, stage a restore, and swap the staged content in.
//
//	sandbox-helper idle          wait for a stop signal
//	sandbox-helper stage DIR     empty DIR/.sandbox-restore, ready to receive a tar
//	sandbox-helper swap DIR      replace DIR's content with the staged one (journaled:
//	                             run it again after a crash and it finishes the job)
//	sandbox-helper serve DIR     stage, print "ready", then swap when a line "swap"
//	                             arrives on stdin (and print "swapped"); at end of input
//	                             without it, leave the staged data unswapped and exit
//
// serve lets one `docker exec` do both ends of a restore: the swap, at the moment the
// tool decides, costs a line on a pipe instead of a second exec.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// staging holds a restore in progress inside the volume, so every rename stays on one
// filesystem and is atomic.
const staging = ".sandbox-restore"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sandbox-helper idle | stage DIR | swap DIR | serve DIR | statfs DIR | probe FILE")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "idle":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
	case "stage":
		err = stage(arg(2))
	case "swap":
		err = swap(arg(2))
	case "serve":
		err = serve(arg(2), os.Stdin, os.Stdout)
	case "statfs":
		err = statfs(arg(2), os.Stdout)
	case "probe":
		_, err = os.Stat(arg(2))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox-helper:", err)
		os.Exit(1)
	}
}

func arg(i int) string {
	if len(os.Args) <= i {
		fmt.Fprintln(os.Stderr, "sandbox-helper: missing directory")
		os.Exit(2)
	}
	return os.Args[i]
}

// stage clears what an earlier, interrupted restore left and makes the staging
// directory. A swap already under way is finished first: its data is complete.
func stage(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, staging, "phase")); err == nil {
		if err := swap(dir); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, staging)); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, staging), 0o700); err != nil {
		return err
	}
	// the staged content goes to v: a tar of the volume's root ("./…") is copied into it,
	// an older snapshot's tar (its entries under v/) into the staging directory
	return os.Mkdir(filepath.Join(dir, staging, "v"), 0o700)
}

// swap moves DIR's current entries aside, moves the staged ones in, and removes the old.
// The phase file says how far it got, so a second run never moves new entries aside.
func swap(dir string) error {
	if err := swapIn(dir); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(dir, staging))
}

// swapIn is swap without the removal of the old data: once it returns the volume holds
// the new content; what is left in the staging area is garbage a later run removes.
func swapIn(dir string) error {
	st := filepath.Join(dir, staging)
	src := filepath.Join(st, "v") // docker cp of a volume mounted at /v puts it under v/
	phaseFile := filepath.Join(st, "phase")
	phase, _ := os.ReadFile(phaseFile)
	if len(phase) == 0 {
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("nothing staged in %s: %w", st, err)
		}
		if err := writeSync(phaseFile, "old"); err != nil {
			return err
		}
		phase = []byte("old")
	}
	old := filepath.Join(st, "old")
	if string(phase) == "old" {
		if err := os.MkdirAll(old, 0o700); err != nil {
			return err
		}
		if err := moveAll(dir, old, staging); err != nil {
			return err
		}
		if err := writeSync(phaseFile, "new"); err != nil {
			return err
		}
	}
	// a snapshot taken while a staging directory was there (a restore killed before it
	// was cleared) holds one too: it is the helper's workspace, never data, so it stays
	// behind and goes with the rest of the staging area
	if err := moveAll(src, dir, staging); err != nil {
		return err
	}
	// the volume root takes the snapshot's owner and mode (a database checks its own)
	if fi, err := os.Stat(src); err == nil {
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			_ = os.Lchown(dir, int(sys.Uid), int(sys.Gid))
		}
		_ = os.Chmod(dir, fi.Mode().Perm())
	}
	return syncDir(dir)
}

// moveAll renames every entry of from into to, except skip.
func moveAll(from, to, skip string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == skip {
			continue
		}
		err := os.Rename(filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return syncDir(to)
}

func writeSync(path, content string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// serve stages, then swaps on request. Only an explicit "swap" line swaps: a tool killed
// after staging closes the pipe, and the volume keeps its data.
func serve(dir string, in io.Reader, out io.Writer) error {
	if err := stage(dir); err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")
	line, err := bufio.NewReader(in).ReadString('\n')
	if strings.TrimSpace(line) != "swap" {
		if err == nil || errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if err := swapIn(dir); err != nil {
		return err
	}
	// The volume's users may start now; the old data goes while they do.
	fmt.Fprintln(out, "swapped")
	return os.RemoveAll(filepath.Join(dir, staging))
}

// statfs prints the size and the free space of the filesystem that holds dir, in bytes:
// run on the container's own root, it is the engine's disk (a Desktop VM's disk image).
func statfs(dir string, out io.Writer) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "%d %d\n", uint64(st.Blocks)*uint64(st.Bsize), uint64(st.Bavail)*uint64(st.Bsize))
	return err
}
