package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
)

// names reports whether err's remedy names the command kind:action.
func names(err error, kind, action string) bool {
	for _, c := range fail.FixOf(err).Commands {
		if c.Kind == kind && c.Action == action {
			return true
		}
	}
	return false
}

func refused(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q, want it to contain %q", err, want)
	}
	if fail.FixOf(err).IsZero() && !strings.Contains(want, "aborted") {
		t.Errorf("error %q carries no remedy", err)
	}
	noKTRDR(t, err.Error(), fmt.Sprint(fail.FixOf(err)))
}

func TestCreateRegistersAWorktreeOnTheLowestFreeSlot(t *testing.T) {
	w := newWorld(t)
	a := w.create("Feat A")
	b := w.create("b")
	if a.Instance.ID != "acme--feat-a" || a.Instance.Slot != 1 || b.Instance.Slot != 2 || !a.NewWorktree {
		t.Fatalf("results %+v %+v", a.Instance, b.Instance)
	}
	if a.Instance.Dir != filepath.Join(w.root, "acme--feat-a") {
		t.Errorf("path %s", a.Instance.Dir)
	}
	vars, err := envfile.Read(filepath.Join(a.Instance.Dir, ".env.sandbox"))
	if err != nil || vars["ACME_WEB_PORT"] != "47081" || vars["INSTANCE_ID"] != "acme--feat-a" || vars["ACME_SHARED_DIR"] != filepath.Join(w.env.Home, ".acme", "shared") {
		t.Errorf("env file %v %v", vars, err)
	}
	if len(a.Headline) != 1 || a.Headline[0].URL != "http://localhost:47081" {
		t.Errorf("headline %+v", a.Headline)
	}
	if got := w.ids(); strings.Join(got, " ") != "acme--b acme--feat-a" {
		t.Errorf("registry %v", got)
	}
	// destroying the first frees its slot for the next create
	if _, err := w.at(a.Instance.Dir).Destroy(context.Background(), config.KindSandbox, DestroyOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if c := w.create("c"); c.Instance.Slot != 1 {
		t.Errorf("c took slot %d, want the freed 1", c.Instance.Slot)
	}
	noKTRDR(t, w.prog.text())
}

func TestCreateRefusals(t *testing.T) {
	w := newWorld(t)
	w.create("taken")
	ctx := context.Background()
	slot := func(n int) *int { return &n }
	mustMkdir(t, filepath.Join(w.root, "acme--there"))
	for _, c := range []struct {
		name string
		o    CreateOptions
		want string
	}{
		{"", CreateOptions{}, "sandbox name is empty"},
		{"-x", CreateOptions{}, "starts with a dash"},
		{"a/b", CreateOptions{}, "path separator"},
		{"taken", CreateOptions{}, "directory already exists"},
		{"there", CreateOptions{}, "directory already exists"},
		{"n", CreateOptions{Branch: "-evil"}, "invalid branch name"},
		{"n", CreateOptions{Branch: "a..b"}, "invalid branch name"},
		{"n", CreateOptions{Slot: slot(0)}, "slot 0 is out of range"},
		{"n", CreateOptions{Slot: slot(4)}, "slot 4 is out of range"},
		{"n", CreateOptions{Slot: slot(1)}, "slot 1 already in use by acme--taken"},
		{"acme-prod", CreateOptions{}, ""}, // a legal name: acme--acme-prod, not the local-prod id
	} {
		_, err := w.env.Create(ctx, c.name, c.o)
		if c.want == "" {
			if err != nil {
				t.Errorf("create %q: %v", c.name, err)
			}
			continue
		}
		refused(t, err, c.want)
		if fail.Code(err) != fail.CodeError {
			t.Errorf("create %q: exit code %d", c.name, fail.Code(err))
		}
	}
	// an entry whose directory went away still holds its id
	if err := os.RemoveAll(filepath.Join(w.root, "acme--taken")); err != nil {
		t.Fatal(err)
	}
	_, err := w.env.Create(ctx, "taken", CreateOptions{})
	refused(t, err, "instance acme--taken is already registered")
	if _, err := w.env.Create(ctx, "n", CreateOptions{Slot: slot(0)}); !strings.Contains(fail.FixOf(err).Text, "reserved for local-prod") {
		t.Errorf("slot 0 remedy %+v", fail.FixOf(err))
	}
	w.create("third")
	_, err = w.env.Create(ctx, "fourth", CreateOptions{})
	refused(t, err, "all 3 sandbox slots are in use")
	if !names(err, fail.Sandbox, "destroy") || !names(err, fail.Sandbox, "gc") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	outside := newWorld(t)
	_, err = outside.at(t.TempDir()).Create(ctx, "x", CreateOptions{})
	refused(t, err, "not a git repository")
}

func TestCreateThatGitRefusesLeavesNothingAndDeletesOnlyItsOwnBranch(t *testing.T) {
	w := newWorld(t)
	w.git.fail["WorktreeAdd"] = errors.New("fatal: could not create work tree")
	w.git.branches[w.repo]["existing"] = true
	for _, branch := range []string{"", "fresh", "existing"} {
		_, err := w.env.Create(context.Background(), "x", CreateOptions{Branch: branch})
		refused(t, err, "could not create work tree")
	}
	if ids := w.ids(); len(ids) != 0 {
		t.Errorf("entries left: %v", ids)
	}
	if _, err := os.Stat(filepath.Join(w.root, "acme--x")); err == nil {
		t.Error("worktree directory left")
	}
	if w.git.branches[w.repo]["acme--x"] || w.git.branches[w.repo]["fresh"] || !w.git.branches[w.repo]["existing"] {
		t.Errorf("branches after: %v (deleted %v): new ones must go, the existing one stay", w.git.branches[w.repo], w.git.deleted)
	}
}

func TestCreateInterruptedLeavesNothing(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	w.git.onAdd = func() { cancel(); w.git.fail["WorktreeAdd"] = context.Canceled }
	_, err := w.env.Create(ctx, "x", CreateOptions{})
	if !errors.Is(err, ErrInterrupted) || !strings.HasPrefix(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want interrupted", err)
	}
	if ids := w.ids(); len(ids) != 0 || w.git.branches[w.repo]["acme--x"] {
		t.Errorf("left: entries %v, branches %v", ids, w.git.branches[w.repo])
	}
	// cancelled after git finished: the worktree it made goes too
	w = newWorld(t)
	ctx, cancel = context.WithCancel(context.Background())
	w.git.onAdd = cancel
	_, err = w.env.Create(ctx, "y", CreateOptions{})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want interrupted", err)
	}
	if _, statErr := os.Stat(filepath.Join(w.root, "acme--y")); statErr == nil || len(w.ids()) != 0 || w.git.branches[w.repo]["acme--y"] {
		t.Errorf("left a worktree, an entry or a branch")
	}
}

func TestInitAdoptsACheckoutAndRefuses(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	res, err := w.env.Init(ctx, config.KindSandbox, InitOptions{})
	if err != nil || res.Instance.ID != "acme--repo" || res.NewWorktree {
		t.Fatalf("init: %+v %v", res, err)
	}
	reg, _ := w.env.RegistryStore().Load()
	if reg.Instances["acme--repo"].IsWorktree {
		t.Error("an adopted checkout is recorded as a worktree the tool created")
	}
	_, err = w.env.Init(ctx, config.KindSandbox, InitOptions{Name: "other"})
	refused(t, err, "already initialized")
	if !names(err, fail.Sandbox, "status") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	sub := filepath.Join(w.repo, "sub")
	mustMkdir(t, sub)
	_, err = w.at(sub).Init(ctx, config.KindSandbox, InitOptions{})
	refused(t, err, "top of the checkout")
}

func TestLocalProdInitAndItsRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	wt := w.create("wt").Instance.Dir
	_, err := w.at(wt).Init(ctx, config.KindLocalProd, InitOptions{})
	refused(t, err, "is a git worktree; local-prod must be a full clone")
	if text := fail.FixOf(err).Text; !strings.Contains(text, "~/acme-prod") {
		t.Errorf("remedy %q does not name the table's clone path", text)
	}
	_, err = w.at(t.TempDir()).Init(ctx, config.KindLocalProd, InitOptions{})
	refused(t, err, "not the top of a git clone")
	bare := filepath.Join(w.root, "nocompose")
	mustMkdir(t, filepath.Join(bare, ".git"))
	_, err = w.at(bare).Init(ctx, config.KindLocalProd, InitOptions{})
	refused(t, err, "has no docker-compose.sandbox.yml")

	prod := filepath.Join(w.root, "prod")
	w.git.clone(t, prod, w.env.Config)
	res, err := w.at(prod).Init(ctx, config.KindLocalProd, InitOptions{})
	if err != nil || res.Instance.ID != "acme-prod" || res.Instance.Slot != 0 || res.Instance.Port("ACME_WEB_PORT") != 47080 {
		t.Fatalf("local-prod init: %+v %v", res.Instance, err)
	}
	second := filepath.Join(w.root, "prod2")
	w.git.clone(t, second, w.env.Config)
	_, err = w.at(second).Init(ctx, config.KindLocalProd, InitOptions{})
	refused(t, err, "local-prod already exists at "+prod)
	if !names(err, fail.LocalProd, "destroy") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	// the local-prod clone cannot also become a sandbox
	if err := os.Remove(filepath.Join(prod, ".env.sandbox")); err != nil {
		t.Fatal(err)
	}
	_, err = w.at(prod).Init(ctx, config.KindSandbox, InitOptions{})
	refused(t, err, "is the registered local-prod clone")
}

func TestDestroyRefusesRatherThanGuesses(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.create("a").Instance
	// uncommitted work
	w.git.changes[a.Dir] = []string{"notes.txt"}
	_, err := w.at(a.Dir).Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	refused(t, err, "worktree has 1 uncommitted change(s): notes.txt")
	// nobody to ask
	delete(w.git.changes, a.Dir)
	_, err = w.at(a.Dir).Destroy(ctx, config.KindSandbox, DestroyOptions{})
	if err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Errorf("without a terminal: %v", err)
	}
	// the user says no
	w.answer = []bool{false}
	_, err = w.at(a.Dir).Destroy(ctx, config.KindSandbox, DestroyOptions{})
	refused(t, err, "aborted; nothing was changed")
	if !strings.Contains(w.asked[len(w.asked)-1], "Destroy sandbox acme--a") {
		t.Errorf("question %q", w.asked[len(w.asked)-1])
	}
	// Docker fails: nothing else changes
	w.docker.downErr = errors.New("daemon gone")
	_, err = w.at(a.Dir).Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	refused(t, err, "daemon gone")
	if _, statErr := os.Stat(a.Dir); statErr != nil || len(w.ids()) != 1 {
		t.Fatalf("a failed compose down went on to delete")
	}
	w.docker.downErr = nil
	// a directory the registry does not record
	stray := filepath.Join(w.root, "stray")
	mustMkdir(t, stray)
	if err := envfile.Write(filepath.Join(stray, ".env.sandbox"), EnvVars(w.env.Config, w.env.Home, "acme--stray", 2, fixedNow)); err != nil {
		t.Fatal(err)
	}
	_, err = w.at(stray).Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	refused(t, err, "is not registered")
	if !names(err, fail.Sandbox, "down") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	// -keepWorktree keeps the directory, drops the env file and the entry
	res, err := w.at(a.Dir).Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true, KeepWorktree: true})
	if err != nil || res.WorktreeRemoved || !res.EnvFileRemoved {
		t.Fatalf("keepWorktree: %+v %v", res, err)
	}
	if _, statErr := os.Stat(a.Dir); statErr != nil || len(w.ids()) != 0 {
		t.Errorf("keepWorktree removed the directory or kept the entry")
	}
	if got := w.docker.called("teardown acme--a"); len(got) != 2 { // the failed one, then this one
		t.Errorf("down calls %v", w.docker.calls)
	}
}

func TestDestroyRemovesOnlyAWorktreeItCreated(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.create("a").Instance
	res, err := w.at(a.Dir).Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	if err != nil || !res.WorktreeRemoved || res.ParentRepo != w.repo {
		t.Fatalf("%+v %v", res, err)
	}
	if _, statErr := os.Stat(a.Dir); statErr == nil {
		t.Error("worktree kept")
	}
	if !w.git.branches[w.repo]["acme--a"] {
		t.Error("destroy deleted the branch")
	}
	// an adopted clone: only its env file goes
	adopted, err := w.env.Init(ctx, config.KindSandbox, InitOptions{Name: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	res, err = w.at(w.repo).Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	if err != nil || res.WorktreeRemoved || !res.EnvFileRemoved || res.ID != adopted.Instance.ID {
		t.Fatalf("adopted: %+v %v", res, err)
	}
	if _, statErr := os.Stat(filepath.Join(w.repo, w.env.Config.ComposeFile)); statErr != nil {
		t.Error("destroy of an adopted checkout touched its files")
	}
}

func TestLocalProdDestroyKeepsTheClone(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.env.Destroy(ctx, config.KindLocalProd, DestroyOptions{Force: true})
	refused(t, err, "no local-prod instance exists")
	prod := filepath.Join(w.root, "prod")
	w.git.clone(t, prod, w.env.Config)
	if _, err := w.at(prod).Init(ctx, config.KindLocalProd, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	// from any directory: it acts on the registered clone and says so
	res, err := w.at(w.repo).Destroy(ctx, config.KindLocalProd, DestroyOptions{Force: true})
	if err != nil || res.Path != prod || !res.EnvFileRemoved || res.WorktreeRemoved {
		t.Fatalf("%+v %v", res, err)
	}
	if _, statErr := os.Stat(filepath.Join(prod, w.env.Config.ComposeFile)); statErr != nil {
		t.Error("the clone was touched")
	}
	if !strings.Contains(w.prog.text(), "Note: local-prod is at "+prod) || len(w.docker.called("teardown acme-prod")) != 1 {
		t.Errorf("progress %q, calls %v", w.prog.text(), w.docker.calls)
	}
	if len(w.ids()) != 0 {
		t.Errorf("entry kept")
	}
}

func TestUpStatusDownThroughTheLifecycle(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.create("a").Instance
	e := w.at(a.Dir)
	res, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true})
	if err != nil || res.Waited || len(w.docker.called("up acme--a")) != 1 {
		t.Fatalf("up: %+v %v %v", res, err, w.docker.calls)
	}
	w.docker.containers["acme--a"] = []compose.Container{{Service: "web", Name: "acme--a-web-1", State: "running", Health: "unhealthy"}, {Service: "db", Name: "acme--a-db-1", State: "running"}}
	rep, err := e.Status(ctx, config.KindSandbox)
	if err != nil || rep.State != Unhealthy || rep.Running != 2 || rep.Unhealthy != 1 || rep.Containers[0].Service != "db" {
		t.Fatalf("status: %+v %v", rep, err)
	}
	w.docker.statesErr = errors.New("daemon gone")
	rep, _ = e.Status(ctx, config.KindSandbox)
	if rep.State != Unknown || !strings.Contains(rep.Error, "daemon gone") {
		t.Errorf("status without docker: %+v", rep)
	}
	if _, err := e.Down(ctx, config.KindSandbox, DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Logs(ctx, config.KindSandbox, LogOptions{}); err != nil || len(w.docker.called("logs acme--a  100")) != 1 {
		t.Errorf("logs: %v %v", err, w.docker.calls)
	}
	if err := e.Shell(ctx, config.KindSandbox, ""); err != nil || w.docker.calls[len(w.docker.calls)-1] != "exec acme--a web bash" {
		t.Errorf("shell goes to the table's default service: %v %v", err, w.docker.calls)
	}
	e.Config.DefaultService = ""
	refused(t, e.Shell(ctx, config.KindSandbox, ""), "no service given")
	// local-prod commands from a sandbox, and sandbox commands from nowhere
	_, err = e.Up(ctx, config.KindLocalProd, StartOptions{})
	refused(t, err, "no local-prod instance is registered")
	if !names(err, fail.LocalProd, "init") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	_, err = w.at(t.TempDir()).Up(ctx, config.KindSandbox, StartOptions{})
	refused(t, err, "not an instance directory")
	if !names(err, fail.Sandbox, "create") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	w.docker.versionErr = errors.New("docker is not installed")
	_, err = e.Up(ctx, config.KindSandbox, StartOptions{})
	refused(t, err, "docker is not installed")
	if !names(err, fail.Sandbox, "doctor") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	noKTRDR(t, w.prog.text())
}
