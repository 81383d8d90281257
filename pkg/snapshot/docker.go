package snapshot

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/dockerapi"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/stats"
)

//go:embed helper/main.go
var helperSource []byte

// ProjectLabel and VolumeLabel are the labels compose puts on the volumes it creates.
const (
	ProjectLabel = "com.docker.compose.project"
	VolumeLabel  = "com.docker.compose.volume"
	helperLabel  = HelperLabel
	// HelperLabel marks the helper's images and containers.
	HelperLabel = "sandbox.snapshot-helper"
)

// queryBound bounds docker calls that only ask; copies are bounded by CopyBound.
const queryBound = 30 * time.Second

// CopyBound bounds one volume's copy in either direction.
var CopyBound = 30 * time.Minute

// Docker runs the docker command line with an environment (nil: the process's).
type Docker struct {
	Env []string
	// Platform is what the engine runs this tool's containers as (platform.Engine's
	// Platform): the helper is built and started for it. Zero: the engine's own.
	Platform platform.Platform
	// API, when set, reaches the same engine through its socket for the calls a snapshot
	// makes (see pkg/dockerapi); nil: the command line for everything.
	API *dockerapi.Client
}

func (d Docker) out(ctx context.Context, args ...string) (string, error) {
	o, err := execx.Output(ctx, execx.Cmd{Name: "docker", Args: args, Env: d.Env, Timeout: queryBound})
	return strings.TrimSpace(o), err
}

// HelperImage is the tag of the helper image for this version of the helper program and
// a platform: an engine may hold the helper for several (emulated ones among them).
func HelperImage(p platform.Platform) string {
	sum := sha256.Sum256(helperSource)
	tag := "sandbox-helper:" + hex.EncodeToString(sum[:])[:12]
	if !p.IsZero() {
		tag += "-" + strings.ReplaceAll(p.String(), "/", "-")
	}
	return tag
}

// platformArgs asks docker for the helper's platform (nothing when it is the engine's own).
func (d Docker) platformArgs() []string {
	if d.Platform.IsZero() {
		return nil
	}
	return []string{"--platform", d.Platform.String()}
}

// EnsureHelper builds the helper image if this engine lacks it: the helper program
// compiled statically with the local Go toolchain for d.Platform (never for the machine
// the tool runs on: a Mac's binary cannot run in a Linux container), FROM scratch.
func (d Docker) EnsureHelper(ctx context.Context) (string, error) {
	tag := HelperImage(d.Platform)
	if _, err := d.out(ctx, "image", "inspect", "--format", "{{.Id}}", tag); err == nil {
		return tag, nil
	}
	if d.Platform.IsZero() {
		return "", errors.New("build the snapshot helper: the engine's platform is not known")
	}
	dir, err := os.MkdirTemp("", "sandbox-helper-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"src/main.go": string(helperSource),
		"src/go.mod":  "module sandboxhelper\n\ngo 1.22\n",
		"ctx/Dockerfile": "FROM scratch\nCOPY sandbox-helper /sandbox-helper\nLABEL " + helperLabel + "=1\n" +
			"ENTRYPOINT [\"/sandbox-helper\"]\nCMD [\"idle\"]\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	env := append(append([]string{}, d.Env...), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off")
	for k, v := range d.Platform.BuildEnv(true) {
		env = append(env, k+"="+v)
	}
	if err := execx.Run(ctx, execx.Cmd{Name: "go", Args: []string{"build", "-trimpath", "-o", filepath.Join(dir, "ctx", "sandbox-helper"), "."},
		Dir: filepath.Join(dir, "src"), Env: env, Timeout: 5 * time.Minute}); err != nil {
		return "", fmt.Errorf("build the snapshot helper: %w", err)
	}
	if err := execx.Run(ctx, execx.Cmd{Name: "docker", Args: append(append([]string{"build", "-q"}, d.platformArgs()...), "-t", tag, filepath.Join(dir, "ctx")),
		Env: d.Env, Timeout: 5 * time.Minute}); err != nil {
		return "", fmt.Errorf("build the snapshot helper image: %w", err)
	}
	return tag, nil
}

// Volume is one named volume of a compose project.
type Volume struct {
	Name  string `json:"name"`  // the engine's name, e.g. acme--a_db_data
	Short string `json:"short"` // the compose file's name for it, e.g. db_data
	Size  int64  `json:"-"`     // as the engine last measured it, for progress
}

// Volumes lists the volumes compose created for project.
func (d Docker) Volumes(ctx context.Context, project string) ([]Volume, error) {
	if d.API != nil {
		vols, err := d.API.Volumes(ctx, dockerapi.Filters{"label": {ProjectLabel + "=" + project}})
		var out []Volume
		for _, v := range vols {
			short := v.Labels[VolumeLabel]
			if short == "" {
				short = strings.TrimPrefix(v.Name, project+"_")
			}
			out = append(out, Volume{Name: v.Name, Short: short})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, err
	}
	o, err := d.out(ctx, "volume", "ls", "--filter", "label="+ProjectLabel+"="+project,
		"--format", fmt.Sprintf("{{.Name}}\t{{.Label %q}}", VolumeLabel))
	if err != nil {
		return nil, err
	}
	var out []Volume
	for _, line := range strings.Split(o, "\n") {
		name, short, ok := strings.Cut(line, "\t")
		if !ok || name == "" {
			continue
		}
		if short == "" {
			short = strings.TrimPrefix(name, project+"_")
		}
		out = append(out, Volume{Name: name, Short: short})
	}
	return out, nil
}

// Sizes are the engine's sizes of its volumes, by name (what `docker system df -v`
// reports; 0 where it has not measured).
func (d Docker) Sizes(ctx context.Context) map[string]int64 {
	o, err := d.out(ctx, "system", "df", "-v", "--format", "{{json .Volumes}}")
	out := map[string]int64{}
	if err != nil {
		return out
	}
	var vols []struct{ Name, Size string }
	if json.Unmarshal([]byte(o), &vols) != nil {
		return out
	}
	for _, v := range vols {
		if n, err := stats.ParseSize(v.Size); err == nil {
			out[v.Name] = n
		}
	}
	return out
}

// LabelledVolume is a volume and the compose project it belongs to.
type LabelledVolume struct{ Name, Project string }

// AllVolumes lists every volume that carries a compose project label.
func (d Docker) AllVolumes(ctx context.Context) ([]LabelledVolume, error) {
	o, err := d.out(ctx, "volume", "ls", "--filter", "label="+ProjectLabel, "--format", fmt.Sprintf("{{.Name}}\t{{.Label %q}}", ProjectLabel))
	if err != nil {
		return nil, err
	}
	var out []LabelledVolume
	for _, line := range strings.Split(o, "\n") {
		if name, p, ok := strings.Cut(line, "\t"); ok && name != "" {
			out = append(out, LabelledVolume{Name: name, Project: p})
		}
	}
	return out, nil
}

// Paused lists the ids of the project's paused containers (a snapshot killed mid-copy
// leaves them so).
func (d Docker) Paused(ctx context.Context, project string) ([]string, error) {
	cs, err := d.containers(ctx, "--filter", "status=paused", "--filter", "label="+ProjectLabel+"="+project)
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids, err
}

// Unpause thaws containers.
func (d Docker) Unpause(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if d.API != nil {
		return eachAtOnce(ids, func(id string) error { return d.API.Unpause(ctx, id) })
	}
	_, err := d.out(ctx, append([]string{"unpause"}, ids...)...)
	return err
}

// StopUsers stops the running containers that mount any of volumes, and only those: a
// restore must not write under a live database, and the rest of the stack can keep
// running. It returns the ones it stopped.
func (d Docker) StopUsers(ctx context.Context, volumes []string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, v := range volumes {
		o, err := d.out(ctx, "ps", "--filter", "volume="+v, "--format", fmt.Sprintf("{{.ID}}\t{{.Label %q}}", helperLabel))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(o, "\n") {
			id, helper, _ := strings.Cut(line, "\t")
			if id != "" && helper == "" && !seen[id] { // never the tool's own helpers
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	_, err := execx.Output(ctx, execx.Cmd{Name: "docker", Args: append([]string{"stop", "--time", "10"}, ids...), Env: d.Env, Timeout: 2 * time.Minute})
	return ids, err
}

// Start starts stopped containers again.
func (d Docker) Start(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := d.out(ctx, append([]string{"start"}, ids...)...)
	return err
}

// Container is a container and the names of the volumes it mounts.
type Container struct {
	ID     string
	Mounts []string
	// At is where it mounts each named volume that has no other mount beneath it (a
	// copy from there would take that mount's files too); known through the API only.
	At map[string]string
}

// Mounting reports whether c mounts any of volumes.
func (c Container) Mounting(volumes []string) bool {
	for _, m := range c.Mounts {
		for _, v := range volumes {
			if m == v {
				return true
			}
		}
	}
	return false
}

// containers lists containers matching filters (docker ps arguments) with their mounts.
func (d Docker) containers(ctx context.Context, filters ...string) ([]Container, error) {
	if d.API != nil {
		return d.apiContainers(ctx, filters)
	}
	o, err := d.out(ctx, append(append([]string{"ps", "--no-trunc"}, filters...), "--format", "{{.ID}}\t{{.Mounts}}")...)
	if err != nil || o == "" {
		return nil, err
	}
	var out []Container
	for _, line := range strings.Split(o, "\n") {
		id, mounts, _ := strings.Cut(line, "\t")
		if id == "" {
			continue
		}
		c := Container{ID: id}
		for _, m := range strings.Split(mounts, ",") { // volume names cannot hold a comma
			if m != "" {
				c.Mounts = append(c.Mounts, m)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// apiContainers is containers through the API: the same docker ps arguments (-a and
// --filter K=V) as the command line's.
func (d Docker) apiContainers(ctx context.Context, args []string) ([]Container, error) {
	f, all := dockerapi.Filters{}, false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-a":
			all = true
		case "--filter":
			if i+1 < len(args) {
				k, v, _ := strings.Cut(args[i+1], "=")
				f[k] = append(f[k], v)
				i++
			}
		}
	}
	cs, err := d.API.Containers(ctx, f, all)
	out := make([]Container, 0, len(cs))
	for _, c := range cs {
		at := map[string]string{}
		for _, m := range c.Mounts {
			nested := false
			for _, other := range c.Mounts {
				nested = nested || strings.HasPrefix(other.Destination, strings.TrimSuffix(m.Destination, "/")+"/")
			}
			if m.Name != "" && m.Destination != "" && !nested {
				at[m.Name] = m.Destination
			}
		}
		out = append(out, Container{ID: c.ID, Mounts: c.MountNames(), At: at})
	}
	return out, err
}

// Running lists the project's running containers.
func (d Docker) Running(ctx context.Context, project string) ([]Container, error) {
	return d.containers(ctx, "--filter", "label="+ProjectLabel+"="+project)
}

// Pause freezes containers; the returned function thaws them (even after ctx ends).
func (d Docker) Pause(ctx context.Context, ids []string) (func(), error) {
	if len(ids) == 0 {
		return func() {}, nil
	}
	thaw := func() { _ = d.Unpause(context.WithoutCancel(ctx), ids) }
	if d.API != nil {
		if err := eachAtOnce(ids, func(id string) error { return d.API.Pause(ctx, id) }); err != nil {
			thaw() // the ones that were paused
			return func() {}, fmt.Errorf("pause the writers: %w", err)
		}
		return thaw, nil
	}
	if _, err := d.out(ctx, append([]string{"pause"}, ids...)...); err != nil {
		return func() {}, fmt.Errorf("pause the writers: %w", err)
	}
	return thaw, nil
}

// eachAtOnce calls fn for every id at the same time and joins their errors.
func eachAtOnce(ids []string, fn func(id string) error) error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(id) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Reader reads volumes as tars: each from the paused writer that mounts it (Source), the
// others from one helper container that mounts them read-only: docker cp reads a
// created container's mounts, so one container serves the whole copy and nothing runs
// inside it. Either way the tar's entries are relative to the volume's root ("./…").
type Reader struct {
	d       Docker
	id      string            // the helper ("" when every volume has a writer)
	sources map[string]Source // volume → the container and the path it is read at
}

// Source is a container that mounts a volume, and where.
type Source struct {
	Container string
	Path      string
}

// NewReader creates the helper container for the volumes not in from. Any helper image
// will do, of any platform: it never runs.
func (d Docker) NewReader(ctx context.Context, image string, volumes []string, from map[string]Source) (*Reader, error) {
	r := &Reader{d: d, sources: map[string]Source{}}
	var binds []string
	for i, v := range volumes {
		if src, ok := from[v]; ok {
			r.sources[v] = src
			continue
		}
		r.sources[v] = Source{Path: "/" + strconv.Itoa(i)}
		binds = append(binds, v+":/"+strconv.Itoa(i)+":ro")
	}
	if len(binds) == 0 {
		return r, nil
	}
	var id string
	var err error
	if d.API != nil {
		id, err = d.API.Create(ctx, dockerapi.Spec{Image: image, Cmd: []string{"idle"}, Labels: map[string]string{helperLabel: "1"}, Binds: binds})
	} else {
		args := []string{"create", "--label", helperLabel + "=1", "--network", "none"}
		for _, b := range binds {
			args = append(args, "-v", b)
		}
		id, err = d.out(ctx, append(args, image, "idle")...)
	}
	if err != nil {
		return nil, fmt.Errorf("helper container for %s: %w", strings.Join(volumes, ", "), err)
	}
	r.id = id
	for v, src := range r.sources {
		if src.Container == "" {
			r.sources[v] = Source{Container: id, Path: src.Path}
		}
	}
	return r, nil
}

// Save streams the content of volume into w as a tar, its entries relative to the
// volume's root (the path ends in /.: docker cp's "the directory's content").
func (r *Reader) Save(ctx context.Context, volume string, w io.Writer) error {
	src := r.sources[volume]
	path := strings.TrimSuffix(src.Path, "/") + "/."
	if r.d.API != nil {
		ctx, cancel := context.WithTimeout(ctx, CopyBound)
		defer cancel()
		tar, err := r.d.API.Archive(ctx, src.Container, path)
		if err == nil {
			_, err = io.Copy(w, tar)
			tar.Close()
		}
		if err != nil {
			return fmt.Errorf("copy volume %s out: %w", volume, err)
		}
		return nil
	}
	var stderr strings.Builder
	if err := execx.Run(ctx, execx.Cmd{Name: "docker", Args: []string{"cp", src.Container + ":" + path, "-"}, Env: r.d.Env,
		Stdout: w, Stderr: &stderr, Timeout: CopyBound}); err != nil {
		return fmt.Errorf("copy volume %s out: %w", volume, err)
	}
	return nil
}

// Close removes the helper container (even after ctx ended).
func (r *Reader) Close(ctx context.Context) {
	if r.id == "" {
		return
	}
	if r.d.API != nil {
		_ = r.d.API.Remove(context.WithoutCancel(ctx), r.id)
		return
	}
	_, _ = r.d.out(context.WithoutCancel(ctx), "rm", "-f", r.id)
}

// HasImage reports whether the engine has the image tag.
func (d Docker) HasImage(ctx context.Context, tag string) bool {
	if d.API != nil {
		ok, err := d.API.ImageExists(ctx, tag)
		return err == nil && ok
	}
	_, err := d.out(ctx, "image", "inspect", "--format", "{{.Id}}", tag)
	return err == nil
}

// AnyHelper is a helper image the engine has, this version's when it has one, for a
// container that never runs; "" when it has none.
func (d Docker) AnyHelper(ctx context.Context) (string, error) {
	var tags []string
	if d.API != nil {
		var err error
		if tags, err = d.API.ImageTags(ctx, dockerapi.Filters{"label": {helperLabel}}); err != nil {
			return "", err
		}
	} else {
		o, err := d.out(ctx, "image", "ls", "--filter", "label="+helperLabel, "--format", "{{.Repository}}:{{.Tag}}")
		if err != nil {
			return "", err
		}
		tags = strings.Fields(o)
	}
	mine := strings.SplitN(HelperImage(platform.Platform{}), ":", 2)[1]
	found := ""
	for _, tag := range tags {
		if strings.HasSuffix(tag, ":<none>") {
			continue
		}
		if strings.HasPrefix(strings.SplitN(tag, ":", 2)[1], mine) {
			return tag, nil
		}
		found = tag
	}
	return found, nil
}

// CreateVolume makes volume with the labels compose gives its own, so compose adopts it.
func (d Docker) CreateVolume(ctx context.Context, project string, v Volume) error {
	if _, err := d.out(ctx, "volume", "inspect", v.Name); err == nil {
		return nil
	}
	_, err := d.out(ctx, "volume", "create", "--label", ProjectLabel+"="+project, "--label", VolumeLabel+"="+v.Short, v.Name)
	return err
}

// RemoveHelpers removes helper containers a killed snapshot or restore left on volumes:
// they would keep the volumes in use. One question to the engine, whatever the count.
func (d Docker) RemoveHelpers(ctx context.Context, volumes []string) {
	helpers, err := d.containers(ctx, "-a", "--filter", "label="+helperLabel)
	if err != nil {
		return
	}
	var ids []string
	for _, c := range helpers {
		if c.Mounting(volumes) {
			ids = append(ids, c.ID)
		}
	}
	switch {
	case len(ids) == 0:
	case d.API != nil:
		_ = eachAtOnce(ids, func(id string) error { return d.API.Remove(ctx, id) })
	default:
		_, _ = d.out(ctx, append([]string{"rm", "-f"}, ids...)...)
	}
}

// Staged is a restore of one volume copied into place beside the live data, waiting for
// its swap. The helper's `serve` process, started by one `docker exec`, staged it and
// waits for the word to swap.
type Staged struct {
	d      Docker
	id     string
	volume string
	remove func()
	server *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *strings.Builder
	cancel context.CancelFunc
	ended  bool
}

// Stage copies the tar read from r into volume's staging area through a helper
// container, leaving the live data alone, and keeps it only when verify (called once r is
// drained) says it is whole. root is how the tar names the volume's content (see
// VolumeEntry.Root). Swap puts it in place; Close removes the helper.
func (d Docker) Stage(ctx context.Context, image, volume, root string, r io.Reader, verify func() error) (*Staged, error) {
	// The helper's main process is serve itself, attached: one `docker run` instead of a
	// detached container and an exec into it. Its name is what docker cp addresses.
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	id := "sandbox-helper-" + hex.EncodeToString(rnd)
	remove := func() { _, _ = d.out(context.WithoutCancel(ctx), "rm", "-f", id) }
	sctx, cancel := context.WithTimeout(ctx, CopyBound)
	st := &Staged{d: d, id: id, volume: volume, remove: remove, cancel: cancel, stderr: &strings.Builder{}}
	args := append(append([]string{"run", "-i"}, d.platformArgs()...), "--name", id, "--label", helperLabel+"=1", "--network", "none",
		"-v", volume+":/v", image, "serve", "/v")
	st.server = exec.CommandContext(sctx, "docker", args...)
	st.server.Env, st.server.Stderr = d.Env, st.stderr
	st.in, _ = st.server.StdinPipe()
	stdout, _ := st.server.StdoutPipe()
	st.out = bufio.NewReader(stdout)
	if err := st.server.Start(); err != nil {
		st.Close()
		return nil, fmt.Errorf("stage restore in %s: %w", volume, err)
	}
	if line, _ := st.out.ReadString('\n'); line != "ready\n" {
		st.Close()
		return nil, fmt.Errorf("stage restore in %s: the helper said %q (%s)", volume, strings.TrimSpace(line), strings.TrimSpace(st.stderr.String()))
	}
	into := "/v/.sandbox-restore" // a tar of v/… (the helper made the empty v)
	if root == "." {
		into += "/v"
	}
	if err := execx.Run(ctx, execx.Cmd{Name: "docker", Args: []string{"cp", "-", id + ":" + into}, Env: d.Env,
		Stdin: r, Timeout: CopyBound}); err != nil {
		st.Close()
		return nil, fmt.Errorf("copy into volume %s: %w", volume, err)
	}
	if err := verify(); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Swap replaces the volume's content with the staged one (journaled inside the volume).
func (s *Staged) Swap(ctx context.Context) error {
	_, _ = io.WriteString(s.in, "swap\n")
	line, _ := s.out.ReadString('\n')
	if line != "swapped\n" {
		s.end()
		return fmt.Errorf("swap restored data into %s: %s", s.volume, strings.TrimSpace(s.stderr.String()))
	}
	return nil // the helper removes the old data while Close waits for it
}

// end closes the helper's input (without "swap" it then exits, leaving the data as it
// was) and waits for it.
func (s *Staged) end() {
	if s.ended {
		return
	}
	s.ended = true
	_ = s.in.Close()
	if s.server.Process != nil {
		_ = s.server.Wait()
	}
}

// Close ends the helper's serve process and removes the helper container.
func (s *Staged) Close() {
	s.end()
	s.cancel()
	s.remove()
}

// RemoveVolumes removes volumes (only ones nobody uses; docker refuses the others).
func (d Docker) RemoveVolumes(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	_, err := d.out(ctx, append([]string{"volume", "rm"}, names...)...)
	return err
}

// errChecksum is returned when a snapshot file does not match its manifest.
var errChecksum = errors.New("checksum mismatch")

// probeBound bounds a probe: a Desktop VM whose file sharing hangs must not hang doctor.
const probeBound = 20 * time.Second

// Sees reports whether the engine's containers see file (an absolute path on this
// machine) through a bind mount of its directory: Docker Desktop shares only some host
// paths with its VM, and a path it does not share is mounted empty or refused.
func (d Docker) Sees(ctx context.Context, image, file string) error {
	dir, base := filepath.Dir(file), filepath.Base(file)
	args := append(append([]string{"run", "--rm"}, d.platformArgs()...), "--label", helperLabel+"=1", "--network", "none",
		"-v", dir+":/probe:ro", image, "probe", "/probe/"+base)
	var stderr strings.Builder
	err := execx.Run(ctx, execx.Cmd{Name: "docker", Args: args, Env: d.Env, Stderr: &stderr, Timeout: probeBound})
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		return fmt.Errorf("%s is not visible to the engine's containers: %s", dir, strings.TrimPrefix(msg, "docker: "))
	}
	return nil
}

// Disk is the size and free space of the engine's own disk (where images, containers
// and volumes live), as a container on it sees its root filesystem.
func (d Docker) Disk(ctx context.Context, image string) (total, free int64, err error) {
	args := append(append([]string{"run", "--rm"}, d.platformArgs()...), "--label", helperLabel+"=1", "--network", "none", image, "statfs", "/")
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Args: args, Env: d.Env, Timeout: probeBound})
	if err != nil {
		return 0, 0, fmt.Errorf("engine disk: %w", err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "%d %d", &total, &free); err != nil {
		return 0, 0, fmt.Errorf("engine disk: the helper said %q", out)
	}
	return total, free, nil
}
