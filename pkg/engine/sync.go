package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
)

// stallTimeout is rsync's own bound: it gives up when no data moves for this long, so a
// large copy is not cut short but a dead link is.
const stallTimeout = 60 * time.Second

func (t Tunnel) rsync(ctx context.Context, out io.Writer, args ...string) (string, error) {
	if err := CheckRsync(ctx, t.Env); err != nil {
		return "", err
	}
	var stdout strings.Builder
	w := io.Writer(&stdout)
	if out != nil {
		w = io.MultiWriter(&stdout, out)
	}
	// rsync splits -e on spaces: the control path lives under the tool's home.
	shell := "ssh " + strings.Join(t.options(), " ")
	// -s (--protect-args, --secluded-args since 3.2.7; one letter in every rsync 3): the
	// paths go to the remote rsync over its protocol, not through the remote shell, which
	// every rsync before 3.2.4 hands them to as they are, so a checkout path with a space
	// lands elsewhere and one with $(…) runs it on the engine's host.
	all := append([]string{"-a", "-s", "--delete", fmt.Sprintf("--timeout=%d", int(stallTimeout/time.Second)), "-e", shell}, args...)
	err := execx.Run(ctx, execx.Cmd{Name: "rsync", Args: all, Env: t.Env, Stdout: w})
	return stdout.String(), t.classify(err)
}

// ErrRsync is wrapped when the local rsync cannot do what the copies here ask of it.
var ErrRsync = errors.New("rsync 3.1 or newer is needed")

var rsyncChecked struct {
	sync.Once
	err error
}

// CheckRsync makes sure the rsync on PATH is rsync 3.1 or newer (asked once a process):
// the copies use --info=progress2, --no-inc-recursive and --itemize-changes, which
// macOS's own rsync lacks: 2.6.9 until macOS 14, openrsync since macOS 15.
func CheckRsync(ctx context.Context, env []string) error {
	rsyncChecked.Do(func() {
		out, err := execx.Output(ctx, execx.Cmd{Name: "rsync", Args: []string{"--version"}, Env: env, Timeout: 10 * time.Second})
		if err != nil {
			rsyncChecked.err = fmt.Errorf("%w: rsync --version: %v", ErrRsync, err)
			return
		}
		rsyncChecked.err = rsyncVersionOK(out)
	})
	return rsyncChecked.err
}

var rsyncVersion = regexp.MustCompile(`^rsync\s+version\s+v?(\d+)\.(\d+)`)

// rsyncVersionOK reads the first line of `rsync --version`.
func rsyncVersionOK(out string) error {
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	m := rsyncVersion.FindStringSubmatch(first)
	if m == nil {
		return fmt.Errorf("%w, found %q (macOS ships openrsync; install rsync 3: brew install rsync)", ErrRsync, first)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 3 || major == 3 && minor < 1 {
		return fmt.Errorf("%w, found %s.%s (install rsync 3: brew install rsync, or your system's package)", ErrRsync, m[1], m[2])
	}
	return nil
}

// ErrCheckout is returned when the remote path of a mirror holds a git checkout.
var ErrCheckout = errors.New("a git checkout is there, not a mirror")

// RemoveMirror deletes a mirror on the engine's host (never a path holding .git).
func (t Tunnel) RemoveMirror(ctx context.Context, remote string) error {
	_, err := t.Run(ctx, nil, fmt.Sprintf("[ -e %[1]s/.git ] || rm -rf -- %[1]s", Quote(remote)))
	return err
}

// A mirror is a remote directory (the same path on the engine's host) made equal to the
// local one, leaving out the excluded patterns (rsync syntax); only what changed moves.
// It takes two steps, so that a caller can refuse what the first finds missing before
// anything is copied, or copy while it does other work.

// PrepareMirror is a mirror's first step, one round trip: it refuses a remote path that
// holds a git checkout, makes the directory, and returns which of the paths in check
// are missing on the engine's host.
func (t Tunnel) PrepareMirror(ctx context.Context, remote string, check []string) (missing []string, err error) {
	// A mirror never holds .git (it is excluded): a .git there means the path is a real
	// checkout, the user's own work if the "remote" is this machine. It is never written.
	script := fmt.Sprintf("if [ -e %[1]s/.git ]; then echo checkout; exit 0; fi; mkdir -p %[1]s || exit 1; ", Quote(remote))
	for _, p := range check {
		script += fmt.Sprintf("[ -e %[1]s ] || echo missing %[1]s; ", Quote(p))
	}
	said, err := t.Run(ctx, nil, script)
	if err != nil {
		return nil, fmt.Errorf("making %s on %s: %w", remote, t.Engine.Name(), err)
	}
	for _, line := range strings.Split(strings.TrimSpace(said), "\n") {
		switch {
		case line == "checkout":
			return nil, fmt.Errorf("%s on %s: %w", remote, t.Engine.Name(), ErrCheckout)
		case strings.HasPrefix(line, "missing "):
			missing = append(missing, strings.TrimPrefix(line, "missing "))
		}
	}
	return missing, nil
}

// CopyMirror is a mirror's second step: the copy into a directory PrepareMirror made.
func (t Tunnel) CopyMirror(ctx context.Context, local, remote string, excludes []string, out io.Writer) error {
	args := []string{}
	for _, x := range excludes {
		args = append(args, "--exclude", x)
	}
	args = append(args, strings.TrimSuffix(local, "/")+"/", t.dest()+":"+strings.TrimSuffix(remote, "/")+"/")
	if _, err := t.rsync(ctx, out, args...); err != nil {
		return fmt.Errorf("copying %s to %s: %w", local, t.Engine.Name(), err)
	}
	return nil
}

// Publish makes the remote directory hold the local one's content with the guarantee the
// local shared data has: complete old or complete new content, never a mix. The new
// content is built beside the old one (unchanged files hard-linked from it, so a re-run
// moves only what changed) and the name is switched to it with one rename of a symlink.
// upToDate is true when nothing differed and nothing was written.
func (t Tunnel) Publish(ctx context.Context, local, remote string, out io.Writer) (upToDate bool, err error) {
	src := strings.TrimSuffix(local, "/") + "/"
	remote = strings.TrimSuffix(remote, "/")
	parent, base := path.Dir(remote), path.Base(remote)
	if strings.ContainsAny(base, `'"$\`+"` ") {
		return false, fmt.Errorf("%s: a shared directory name must be a plain word", base)
	}
	// What is there now: a symlink to the current version, a plain directory, or nothing.
	cur, err := t.Run(ctx, nil, fmt.Sprintf("mkdir -p %s && cd %s && if [ -L %s ]; then readlink %s; elif [ -d %s ]; then echo %s; fi",
		Quote(parent), Quote(parent), Quote(base), Quote(base), Quote(base), Quote(base)))
	if err != nil {
		return false, fmt.Errorf("reading %s on %s: %w", remote, t.Engine.Name(), err)
	}
	cur = strings.TrimSpace(cur)
	if cur != "" {
		changes, err := t.rsync(ctx, nil, "--dry-run", "--itemize-changes", src, t.dest()+":"+remote+"/")
		if err != nil {
			return false, fmt.Errorf("comparing %s with %s on %s: %w", local, remote, t.Engine.Name(), err)
		}
		if strings.TrimSpace(changes) == "" {
			return true, nil
		}
	}
	version := fmt.Sprintf(".%s.v%d", base, time.Now().UnixNano())
	args := []string{"--info=progress2", "--no-inc-recursive"}
	if cur != "" {
		args = append(args, "--link-dest="+path.Join(parent, cur))
	}
	args = append(args, src, t.dest()+":"+path.Join(parent, version)+"/")
	if _, err := t.rsync(ctx, out, args...); err != nil {
		return false, fmt.Errorf("copying %s to %s: %w", local, t.Engine.Name(), err)
	}
	// The switch: a real directory (made by hand, or by an old tool) is moved aside first,
	// the one moment the name is missing; afterwards every switch is one rename.
	swap := fmt.Sprintf(`cd %[1]s && if [ -d %[2]s ] && [ ! -L %[2]s ]; then mv -T %[2]s .%[2]s.vold; fi && ln -sfn %[3]s .%[2]s.next && mv -T .%[2]s.next %[2]s && for d in .%[2]s.v*; do [ "$d" = %[3]s ] || rm -rf -- "$d"; done`,
		Quote(parent), base, version)
	if _, err := t.Run(ctx, nil, swap); err != nil {
		return false, fmt.Errorf("switching %s on %s to the new copy: %w", remote, t.Engine.Name(), err)
	}
	return false, nil
}
