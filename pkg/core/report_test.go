package core

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/registry"
)

func TestListReadsEveryStateInNaturalOrder(t *testing.T) {
	w := newWorld(t)
	w.env.Config.LastSandboxSlot = 10
	ctx := context.Background()
	dirs := map[string]string{}
	for _, n := range []string{"d10", "d2", "gone", "broken", "idle", "new", "sick", "half"} {
		dirs[n] = w.create(n).Instance.Dir
	}
	if err := os.RemoveAll(dirs["gone"]); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dirs["broken"], ".env.sandbox")); err != nil {
		t.Fatal(err)
	}
	w.docker.states = map[string]compose.Counts{
		"acme--d2": {Running: 2, Total: 2}, "acme--d10": {Running: 2, Total: 2}, "acme--idle": {Total: 2},
		"acme--sick": {Running: 2, Total: 2, Unhealthy: 1}, "acme--half": {Running: 1, Total: 2},
		"acme--orphan": {Running: 1, Total: 1}, "other-project": {Running: 1, Total: 1},
	}
	l, err := w.env.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	got := map[string]Row{}
	for _, r := range l.Instances {
		order = append(order, strings.TrimPrefix(r.InstanceID, "acme--"))
		got[r.InstanceID] = r
	}
	if strings.Join(order, " ") != "broken d2 d10 gone half idle new sick" {
		t.Errorf("order %v", order)
	}
	for id, want := range map[string]State{"acme--d2": Running, "acme--gone": Missing, "acme--broken": Broken, "acme--idle": Stopped,
		"acme--new": NotStarted, "acme--sick": Unhealthy, "acme--half": Partial} {
		if got[id].State != want {
			t.Errorf("%s: %s, want %s", id, got[id].State, want)
		}
	}
	if got["acme--d2"].APIPort == 0 || got["acme--half"].Running != 1 || got["acme--half"].Total != 2 || got["acme--broken"].Detail != "no .env.sandbox" {
		t.Errorf("rows %+v", got)
	}
	if strings.Join(l.Orphans, " ") != "acme--orphan" {
		t.Errorf("orphans %v (a project of another tool is not ours)", l.Orphans)
	}
	w.docker.statesErr = errors.New("daemon gone")
	l, _ = w.env.List(ctx)
	if l.Instances[1].State != Unknown || !strings.Contains(l.Warnings[0], "container states unknown: daemon gone") {
		t.Errorf("without docker: %+v %v", l.Instances[1], l.Warnings)
	}
}

func TestListWarnsOfContestedSlots(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	err := w.env.RegistryStore().Update(ctx, func(f *registry.File) error {
		f.Instances["acme--x"] = &registry.Instance{InstanceID: "acme--x", Slot: 2, Path: "/nonexistent/x"}
		f.Instances["acme--y"] = &registry.Instance{InstanceID: "acme--y", Slot: 2, Path: "/nonexistent/y"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := w.env.List(ctx)
	if err != nil || len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "slot 2 is claimed by acme--x and acme--y") {
		t.Errorf("%v %v", l.Warnings, err)
	}
}

func findings(rep DoctorReport) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range rep.Findings {
		m[f.Check] = f
	}
	return m
}

func TestDoctorFindsUnhealthyContainersAWedgedEngineAndStaleState(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.create("a").Instance
	gone := w.create("gone").Instance
	if err := os.RemoveAll(gone.Dir); err != nil {
		t.Fatal(err)
	}
	w.git.addWorktree(t, w.repo, filepath.Join(w.root, "acme--loose"))
	w.docker.states = map[string]compose.Counts{"acme--a": {Running: 2, Total: 2, Unhealthy: 1}, "acme--orphan": {Total: 1}}
	w.docker.containers["acme--a"] = []compose.Container{{Service: "web", Name: "acme--a-web-1", State: "running", Health: "unhealthy"}}
	w.docker.unresponsive = true
	rep := w.env.Doctor(ctx)
	got := findings(rep)
	check := func(name string, ok bool, detail string, kind, action string) {
		t.Helper()
		f, found := got[name]
		if !found {
			t.Errorf("no finding %q in %+v", name, rep.Findings)
			return
		}
		if f.OK != ok || !strings.Contains(f.Detail, detail) {
			t.Errorf("%s: ok=%v %q, want ok=%v and %q", name, f.OK, f.Detail, ok, detail)
		}
		if action != "" && !names(fail.New(1, f.Fix, "x"), kind, action) {
			t.Errorf("%s: fix %+v, want %s:%s", name, f.Fix, kind, action)
		}
		noKTRDR(t, f.Detail, f.Fix.Text)
	}
	check("docker", true, "engine 20.10.24", "", "")
	check("docker engine", false, "answers ps but not inspect", "", "")
	check("instance acme--a", false, "1 of 2 container(s) unhealthy", fail.Sandbox, "logs")
	check("instance acme--gone", false, "is gone", fail.Sandbox, "gc")
	check("compose project acme--orphan", false, "no registry entry", fail.Sandbox, "gc")
	check("worktree "+filepath.Join(w.root, "acme--loose"), false, "not registered", fail.Sandbox, "gc")
	if _, ok := got["1password"]; ok {
		t.Error("a table without secrets has no 1password check")
	}
	if rep.Problems() != 5 {
		t.Errorf("%d problems, want 5: %+v", rep.Problems(), rep.Findings)
	}
	_ = a
	// a foreign listener on a slot's port
	l, err := net.Listen("tcp", "127.0.0.1:47083")
	if err != nil {
		t.Skipf("cannot hold port 47083 for the test: %v", err)
	}
	defer l.Close()
	got = findings(w.env.Doctor(ctx))
	check("slot 3 ports", false, "47083 (ACME_WEB_PORT): held by a process that is not an instance", "", "")
	// and a daemon that is not there at all
	w.docker.versionErr = errors.New("docker is not installed")
	got = findings(w.env.Doctor(ctx))
	if f := got["docker"]; f.OK || f.Fix.Text != "install or start Docker (Docker Engine or Docker Desktop) with the docker compose v2 plugin" {
		t.Errorf("docker finding %+v (a table without SetupDoc links nothing)", f)
	}
}

func TestDoctorOnAnUnreadableRegistryStopsThere(t *testing.T) {
	w := newWorld(t)
	mustWrite(t, w.env.RegistryStore().Path, "{not json")
	rep := w.env.Doctor(context.Background())
	last := rep.Findings[len(rep.Findings)-1]
	if last.Check != "registry" || last.OK || !strings.Contains(last.Fix.Text, "fix or move") {
		t.Errorf("%+v", last)
	}
}

func TestGCRemovesOnlyWhatHoldsNoWork(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	keep := w.create("keep").Instance
	gone := w.create("gone").Instance
	if err := os.RemoveAll(gone.Dir); err != nil {
		t.Fatal(err)
	}
	clean, dirty := filepath.Join(w.root, "acme--clean"), filepath.Join(w.root, "acme--dirty")
	w.git.addWorktree(t, w.repo, clean)
	w.git.addWorktree(t, w.repo, dirty)
	w.git.changes[dirty] = []string{"wip.txt"}
	w.docker.states = map[string]compose.Counts{"acme--orphan": {Total: 1}, "acme--keep": {Running: 2, Total: 2}, "else": {Total: 1}}
	w.docker.volumes["acme--orphan"] = []string{"acme--orphan_db_data"}

	dry, err := w.env.GC(ctx, GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Removable() != 3 || len(w.docker.called("downByName")) != 0 || len(w.ids()) != 2 {
		t.Fatalf("dry run changed things or miscounted: %+v %v", dry, w.docker.calls)
	}
	rep, err := w.env.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byTarget := map[string]GCItem{}
	for _, it := range rep.Items {
		byTarget[it.Target] = it
	}
	if it := byTarget["acme--gone"]; it.Action != StaleEntry || !it.Done {
		t.Errorf("stale entry %+v", it)
	}
	if it := byTarget["acme--orphan"]; it.Action != OrphanedProject || !it.Done || strings.Join(it.Volumes, "") != "acme--orphan_db_data" {
		t.Errorf("orphan %+v", it)
	}
	if it := byTarget[clean]; it.Action != LooseWorktree || !it.Done {
		t.Errorf("clean worktree %+v", it)
	}
	if it := byTarget[dirty]; it.Action != KeptWorktree || strings.Join(it.Changes, "") != "wip.txt" {
		t.Errorf("dirty worktree %+v", it)
	}
	if _, err := os.Stat(dirty); err != nil {
		t.Error("a worktree with work in it was removed")
	}
	if _, err := os.Stat(keep.Dir); err != nil || strings.Join(w.ids(), " ") != "acme--keep" {
		t.Errorf("the registered instance was touched: %v", w.ids())
	}
	if got := w.docker.called("downByName"); strings.Join(got, ",") != "downByName acme--orphan" {
		t.Errorf("downed %v: only the orphan, never a registered or foreign project", got)
	}
}

func TestGCKeepsAWorktreeGitCannotCheck(t *testing.T) {
	w := newWorld(t)
	loose := filepath.Join(w.root, "acme--loose")
	w.git.addWorktree(t, w.repo, loose)
	w.git.fail["Changes"] = errors.New("git status: exit status 128")
	rep, err := w.env.GC(context.Background(), GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Items) != 1 || rep.Items[0].Action != KeptWorktree || len(rep.Items[0].Changes) != 0 ||
		!strings.Contains(rep.Items[0].Error, "could not check it for uncommitted changes: git status: exit status 128") {
		t.Errorf("%+v", rep.Items)
	}
	if _, err := os.Stat(loose); err != nil {
		t.Error("removed a worktree it could not check")
	}
	if rep.Removable() != 0 {
		t.Error("counted as removable")
	}
}

func TestInitSharedLockLivesOutsideTheSharedData(t *testing.T) {
	w := newWorld(t)
	w.env.Config.Shared = []config.SharedSubdir{{Name: "data", Env: "ACME_DATA_DIR"}}
	src := t.TempDir()
	mustWrite(t, filepath.Join(src, "data", "a.csv"), "1\n")
	res, err := w.env.InitShared(context.Background(), src, false)
	if err != nil || res.Outcome != SharedCopied {
		t.Fatalf("%+v %v", res, err)
	}
	entries, _ := os.ReadDir(w.env.SharedPath())
	for _, e := range entries {
		if e.Name() != "data" {
			t.Errorf("the shared data directory holds %s besides the data", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(w.env.StateDir(), "initshared.lock")); err != nil {
		t.Errorf("no lock beside the registry: %v", err)
	}
	_, err = w.env.InitShared(context.Background(), filepath.Join(src, "nope"), false)
	refused(t, err, "Source not found")
	if !strings.Contains(fail.FixOf(err).Text, "data/") {
		t.Errorf("remedy %q names the table's subdirectories", fail.FixOf(err).Text)
	}
}
