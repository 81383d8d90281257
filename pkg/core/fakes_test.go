package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/gitx"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/secrets"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// fakeGit keeps repositories in memory but makes their directories for real, because
// the core reads a checkout's kind from its .git entry (a directory for a clone, a file
// for a linked worktree).
type fakeGit struct {
	mu        sync.Mutex
	worktrees map[string][]string        // repo → linked worktree paths
	branches  map[string]map[string]bool // repo → branch names
	changes   map[string][]string        // dir → uncommitted paths
	fail      map[string]error           // method name → error to return
	onAdd     func()                     // called inside WorktreeAdd (e.g. to cancel)
	deleted   []string                   // branches deleted
}

func newFakeGit() *fakeGit {
	return &fakeGit{worktrees: map[string][]string{}, branches: map[string]map[string]bool{}, changes: map[string][]string{}, fail: map[string]error{}}
}

// clone makes dir a clone: a directory with a .git directory and the compose file.
func (g *fakeGit) clone(t *testing.T, dir string, cfg config.Config) {
	t.Helper()
	mustMkdir(t, filepath.Join(dir, ".git"))
	mustWrite(t, filepath.Join(dir, cfg.ComposeFile), "services: {}\n")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.branches[dir] = map[string]bool{"main": true}
}

func (g *fakeGit) err(method string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fail[method]
}

func (g *fakeGit) repoOf(dir string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for repo, wts := range g.worktrees {
		for _, wt := range wts {
			if within(dir, wt) {
				return repo, true
			}
		}
	}
	for repo := range g.branches {
		if within(dir, repo) {
			return repo, true
		}
	}
	return "", false
}

func within(dir, root string) bool {
	return dir == root || strings.HasPrefix(dir, root+string(filepath.Separator))
}

func (g *fakeGit) TopLevel(_ context.Context, dir string) (string, error) {
	if err := g.err("TopLevel"); err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, wts := range g.worktrees {
		for _, wt := range wts {
			if within(dir, wt) {
				return wt, nil
			}
		}
	}
	for repo := range g.branches {
		if within(dir, repo) {
			return repo, nil
		}
	}
	return "", errors.New("fatal: not a git repository")
}

func (g *fakeGit) MainRepo(_ context.Context, dir string) (string, error) {
	if err := g.err("MainRepo"); err != nil {
		return "", err
	}
	if repo, ok := g.repoOf(dir); ok {
		return repo, nil
	}
	return "", errors.New("fatal: not a git repository")
}

func (g *fakeGit) BranchExists(_ context.Context, repo, branch string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.branches[repo][branch], nil
}

func (g *fakeGit) DeleteBranch(_ context.Context, repo, branch string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.branches[repo], branch)
	g.deleted = append(g.deleted, branch)
	return nil
}

func (g *fakeGit) Locate(ctx context.Context, dir string) (string, string, error) {
	top, err := g.TopLevel(ctx, dir)
	if err != nil {
		return "", "", err
	}
	repo, err := g.MainRepo(ctx, top)
	return top, repo, err
}

func (g *fakeGit) AddWorktree(ctx context.Context, repo, path, branch string, existing bool) error {
	if !existing && g.branches[repo][branch] {
		return fmt.Errorf("fatal: a branch named '%s' already exists", branch)
	}
	return g.WorktreeAdd(ctx, repo, path, branch)
}

// WorktreeAdd makes the branch first, as git does, then the directory.
func (g *fakeGit) WorktreeAdd(_ context.Context, repo, path, branch string) error {
	if branch == "" {
		branch = filepath.Base(path)
	}
	g.mu.Lock()
	g.branches[repo][branch] = true
	g.mu.Unlock()
	if g.onAdd != nil {
		g.onAdd()
	}
	if err := g.err("WorktreeAdd"); err != nil {
		return err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(path, ".git"), []byte("gitdir: "+repo+"/.git/worktrees/x\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(path, "docker-compose.sandbox.yml"), []byte("services: {}\n"), 0o644); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.worktrees[repo] = append(g.worktrees[repo], path)
	return nil
}

func (g *fakeGit) WorktreeRemove(_ context.Context, repo, path string, force bool) error {
	if err := g.err("WorktreeRemove"); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.changes[path]) > 0 && !force {
		return fmt.Errorf("fatal: '%s' contains modified or untracked files, use --force to delete it", path)
	}
	var keep []string
	for _, wt := range g.worktrees[repo] {
		if wt != path {
			keep = append(keep, wt)
		}
	}
	g.worktrees[repo] = keep
	return os.RemoveAll(path)
}

func (g *fakeGit) WorktreePrune(context.Context, string) error { return nil }

func (g *fakeGit) WorktreeList(_ context.Context, repo string) ([]gitx.WorktreeInfo, error) {
	if err := g.err("WorktreeList"); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	list := []gitx.WorktreeInfo{{Path: repo, Branch: "refs/heads/main"}}
	for _, wt := range g.worktrees[repo] {
		list = append(list, gitx.WorktreeInfo{Path: wt})
	}
	return list, nil
}

func (g *fakeGit) Changes(_ context.Context, dir string, except ...string) ([]string, error) {
	if err := g.err("Changes"); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changes[dir], nil
}

func (g *fakeGit) Run(_ context.Context, dir string, _ []byte, args ...string) (string, error) {
	return "", fmt.Errorf("fake git cannot run %v", args)
}

func (g *fakeGit) CheckRefFormat(_ context.Context, branch string) (string, error) {
	if strings.Contains(branch, "..") || strings.ContainsAny(branch, " ~^:") {
		return "", errors.New("fatal: not a valid branch name")
	}
	return branch, nil
}

// addWorktree registers a linked worktree made outside the tool (by hand).
func (g *fakeGit) addWorktree(t *testing.T, repo, path string) {
	t.Helper()
	if err := g.WorktreeAdd(context.Background(), repo, path, ""); err != nil {
		t.Fatal(err)
	}
}

// fakeDocker answers from tables and records what was asked of compose.
type fakeDocker struct {
	mu           sync.Mutex
	versionErr   error
	statesErr    error
	states       map[string]compose.Counts
	containers   map[string][]compose.Container
	volumes      map[string][]string
	downErr      error
	unresponsive bool
	usage        map[string]stats.Usage
	engine       platform.Engine   // zero: an 8 GiB linux/amd64 engine
	diskFree     int64             // the engine's free disk (0: 40 GiB)
	helperErr    error             // what running the helper fails with (EngineDisk)
	logs         map[string]string // service → its last log lines
	vols         *fakeVolumes
	images       map[string][]compose.Image // project → images labelled with it
	stuck        map[string]bool            // image refs teardown fails to remove
	onPublished  func()                     // runs inside Published (to order a test's events)
	unshared     string                     // a host directory the engine's containers do not see
	config       []byte                     // what compose config answers (nil: an error)
	networksFree int                        // how many more networks the engine can make (0: 25)
	published    map[int]bool               // the host ports every instance's containers publish
	calls        []string
}

func newFakeDocker() *fakeDocker {
	return &fakeDocker{states: map[string]compose.Counts{}, containers: map[string][]compose.Container{}, volumes: map[string][]string{},
		vols: newFakeVolumes(), images: map[string][]compose.Image{}, stuck: map[string]bool{}}
}

func (d *fakeDocker) record(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf(format, args...))
}

func (d *fakeDocker) called(prefix string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, c := range d.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (d *fakeDocker) Engine(context.Context) (platform.Engine, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.versionErr != nil {
		return platform.Engine{}, d.versionErr
	}
	if d.engine.Platform.IsZero() {
		linux := platform.Platform{OS: "linux", Arch: "amd64"}
		return platform.Engine{Platform: linux, Native: linux, MemTotal: 8 << 30, CPUs: 2, OperatingSystem: "Debian GNU/Linux 12 (bookworm)"}, nil
	}
	return d.engine, nil
}

func (d *fakeDocker) EngineDisk(context.Context) (int64, int64, error) {
	d.record("engine disk")
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.helperErr != nil {
		return 0, 0, d.helperErr
	}
	if d.diskFree == 0 {
		return 60 << 30, 40 << 30, nil
	}
	return 60 << 30, d.diskFree, nil
}

func (d *fakeDocker) Sees(_ context.Context, file string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unshared != "" && filepath.Dir(file) == d.unshared {
		return fmt.Errorf("%s is not visible to the engine's containers: Mounts denied", filepath.Dir(file))
	}
	if _, err := os.Stat(file); err != nil {
		return err // the probe file must be there while the engine looks
	}
	return nil
}

func (d *fakeDocker) Versions(context.Context) (string, string, error) {
	if d.versionErr != nil {
		return "", "", d.versionErr
	}
	return "20.10.24", "2.40.3", nil
}
func (d *fakeDocker) ProjectStates(context.Context, string) (map[string]compose.Counts, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.statesErr != nil {
		return nil, d.statesErr
	}
	out := map[string]compose.Counts{}
	for k, v := range d.states {
		out[k] = v
	}
	return out, nil
}
func (d *fakeDocker) Containers(_ context.Context, _, project string) ([]compose.Container, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.statesErr != nil {
		return nil, d.statesErr
	}
	return d.containers[project], nil
}
func (d *fakeDocker) VolumesOf(_ context.Context, project string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.volumes[project], nil
}
func (d *fakeDocker) Responsive(_ context.Context, container string, bound time.Duration) error {
	if d.unresponsive {
		return fmt.Errorf("docker inspect %s did not answer within %s", container, bound)
	}
	return nil
}
func (d *fakeDocker) Build(context.Context, compose.Project, io.Writer) error {
	return errors.New("no Swarm here")
}
func (d *fakeDocker) Push(context.Context, string, string) (bool, error) {
	return false, errors.New("no registry here")
}
func (d *fakeDocker) AddressRoom(context.Context) (int, int, error) {
	if d.networksFree == 0 {
		return 25, 31, nil
	}
	return max(d.networksFree, 0), 31, nil
}
func (d *fakeDocker) Config(_ context.Context, p compose.Project) ([]byte, error) {
	host, _ := execx.LookupEnv(p.Env, "DOCKER_HOST")
	d.record("config %s DOCKER_HOST=%s", p.Name, host)
	if d.config != nil {
		return d.config, nil
	}
	return nil, errors.New("no compose config here")
}
func (d *fakeDocker) Up(_ context.Context, p compose.Project, build bool, _, _ io.Writer) error {
	d.record("up %s", p.Name)
	return nil
}
func (d *fakeDocker) Down(_ context.Context, p compose.Project, volumes bool, _, _ io.Writer) error {
	d.record("down %s volumes=%v", p.Name, volumes)
	return d.downErr
}
func (d *fakeDocker) DownByName(_ context.Context, p compose.Project, _, _ io.Writer) error {
	d.record("downByName %s", p.Name)
	return d.downErr
}
func (d *fakeDocker) Published(context.Context, string, string) (map[int]bool, error) {
	if d.onPublished != nil {
		d.onPublished()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[int]bool{}
	for p := range d.published {
		out[p] = true
	}
	return out, nil
}
func (d *fakeDocker) Logs(_ context.Context, p compose.Project, service string, follow bool, tail int, out, _ io.Writer) error {
	d.record("logs %s %s %d", p.Name, service, tail)
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := io.WriteString(out, d.logs[service])
	return err
}
func (d *fakeDocker) Usage(context.Context, string) (map[string]stats.Usage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.statesErr != nil {
		return nil, d.statesErr
	}
	out := map[string]stats.Usage{}
	for k, v := range d.usage {
		out[k] = v
	}
	return out, nil
}
func (d *fakeDocker) Exec(_ context.Context, p compose.Project, service string, cmd []string, _ bool, _ io.Reader, _, _ io.Writer) error {
	d.record("exec %s %s %s", p.Name, service, strings.Join(cmd, " "))
	return nil
}

type fakeSecrets struct{ err error }

func (f fakeSecrets) Fetch(context.Context, string, []config.SecretField) (secrets.Values, error) {
	if f.err != nil {
		return nil, f.err
	}
	return secrets.Values{"API_TOKEN": "s3cret"}, nil
}

// recorder is a Progress that keeps every line.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Step(msg string) { r.mu.Lock(); r.lines = append(r.lines, msg); r.mu.Unlock() }
func (r *recorder) Warn(msg string) { r.Step("Warning: " + msg) }
func (r *recorder) Meter(string) shared.Progress {
	return shared.NewProgress(io.Discard, "", false, time.Hour)
}
func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// world is one test's machine: an acme table, a home, a repository, fakes.
type world struct {
	t      *testing.T
	root   string // parent of the repository and its worktrees
	repo   string
	env    *Env
	git    *fakeGit
	docker *fakeDocker
	prog   *recorder
	asked  []string
	answer []bool
}

var fixedNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// acme is a non-KTRDR table: two ports far from anything running, three sandbox slots.
func acme() config.Config {
	c := config.New("acme")
	c.Ports = []config.Port{
		{Env: "ACME_WEB_PORT", Label: "Web", Standard: 47080, First: 47081, Stride: 1, URL: "http://localhost:%d"},
		{Env: "ACME_DB_PORT", Label: "Database", Standard: 47180, First: 47181, Stride: 1},
	}
	c.APIPort = "ACME_WEB_PORT"
	c.LastSandboxSlot = 3
	c.DefaultService = "web"
	return c
}

func newWorld(t *testing.T) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{t: t, root: root, repo: filepath.Join(root, "repo"), git: newFakeGit(), docker: newFakeDocker(), prog: &recorder{}}
	cfg := acme()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w.git.clone(t, w.repo, cfg)
	env, err := New(Env{Config: cfg, Home: filepath.Join(root, "home"), Cwd: w.repo, Vars: []string{"PATH=/usr/bin:/bin"},
		Out: io.Discard, Err: io.Discard, Now: func() time.Time { return fixedNow }, LockWait: time.Second,
		Git: w.git, Docker: w.docker, Secrets: fakeSecrets{}, Progress: w.prog,
		Ask: func(q string) (bool, error) {
			w.asked = append(w.asked, q)
			if len(w.answer) == 0 {
				return false, errors.New("no terminal")
			}
			a := w.answer[0]
			w.answer = w.answer[1:]
			return a, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	w.env = env
	return w
}

// at returns the world's Env run from dir.
func (w *world) at(dir string) *Env {
	e := *w.env
	e.Cwd = dir
	return &e
}

func (w *world) create(name string) InitResult {
	w.t.Helper()
	res, err := w.env.Create(context.Background(), name, CreateOptions{})
	if err != nil {
		w.t.Fatalf("create %s: %v", name, err)
	}
	return res
}

func (w *world) ids() []string {
	w.t.Helper()
	reg, err := w.env.RegistryStore().Load()
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []string
	for _, in := range reg.Sorted() {
		ids = append(ids, in.InstanceID)
	}
	if reg.LocalProd != nil {
		ids = append(ids, "local-prod:"+reg.LocalProd.InstanceID)
	}
	sort.Strings(ids)
	return ids
}

// noKTRDR fails when any of texts says ktrdr: a second project must never see it.
func noKTRDR(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(strings.ToLower(s), "ktrdr") {
			t.Errorf("says ktrdr: %s", s)
		}
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
