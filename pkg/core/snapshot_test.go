package core

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// snapWorld is a world with sandbox a created, its volume db holding "v1" and two
// running containers.
func snapWorld(t *testing.T) (*world, *Env) {
	t.Helper()
	w := newWorld(t)
	a := w.create("a").Instance
	w.docker.vols.put("acme--a", "db", "v1")
	w.docker.vols.running["acme--a"] = []string{"c1", "c2", "web"}
	w.docker.vols.mounts["web"] = nil // mounts none of the volumes: never paused
	return w, w.at(a.Dir)
}

func TestTakeListDelete(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	m, err := e.Snapshots().Take(ctx, config.KindSandbox, "base")
	if err != nil || m.Name != "base" || len(m.Volumes) != 1 || m.Volumes[0].Short != "db" {
		t.Fatalf("take: %+v %v", m, err)
	}
	calls := strings.Join(w.docker.vols.calls, "; ")
	if !strings.Contains(calls, "Pause [c1 c2]") || !strings.Contains(calls, "Thaw [c1 c2]") || w.docker.vols.helpers == 0 {
		t.Errorf("the writers were not paused and thawed, or old helpers not removed: %s", calls)
	}
	// a name from the clock when none is given
	if m, err := e.Snapshots().Take(ctx, config.KindSandbox, ""); err != nil || m.Name != "20261124-120000" {
		t.Errorf("unnamed: %+v %v", m, err)
	}
	l, err := e.Snapshots().List(config.KindSandbox, false)
	if err != nil || len(l.Snapshots) != 2 || !l.Snapshots[0].Registered || l.Snapshots[0].DataBytes != 2 {
		t.Errorf("list: %+v %v", l, err)
	}
	_, err = e.Snapshots().Take(ctx, config.KindSandbox, "base")
	refused(t, err, "already exists")
	_, err = e.Snapshots().Take(ctx, config.KindSandbox, "../up")
	if fail.Code(err) != 2 || !names(err, fail.Sandbox, "snapshot") {
		t.Errorf("a bad name: %v (code %d, %+v)", err, fail.Code(err), fail.FixOf(err))
	}
	if err := e.Snapshots().Delete(config.KindSandbox, "base", ""); err != nil {
		t.Fatal(err)
	}
	err = e.Snapshots().Delete(config.KindSandbox, "base", "")
	refused(t, err, `no snapshot "base" of acme--a`)
	if !names(err, fail.Sandbox, "snapshots") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	err = e.Snapshots().Delete(config.KindSandbox, "x", "acme--../../etc")
	if fail.Code(err) != 2 || !errors.Is(err, snapshot.ErrBadName) {
		t.Errorf("a path in -from: %v", err)
	}
}

func TestTakeRefusals(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	w.docker.vols.fail["ReadHelper"] = errors.New("go: not found")
	_, err := e.Snapshots().Take(ctx, config.KindSandbox, "x")
	refused(t, err, "go: not found")
	if !strings.Contains(fail.FixOf(err).Text, "Go toolchain") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	delete(w.docker.vols.fail, "ReadHelper")
	w.docker.vols.fail["Of"] = errors.New("Cannot connect to the Docker daemon")
	_, err = e.Snapshots().Take(ctx, config.KindSandbox, "x")
	if err == nil || !names(err, fail.Sandbox, "doctor") {
		t.Errorf("docker gone: %v %+v", err, fail.FixOf(err))
	}
	delete(w.docker.vols.fail, "Of")
	w.docker.vols.fail["Take"] = errors.New("disk full")
	_, err = e.Snapshots().Take(ctx, config.KindSandbox, "x")
	refused(t, err, "disk full")
	if !strings.Contains(w.docker.vols.calls[len(w.docker.vols.calls)-1], "Thaw") {
		t.Errorf("a failed copy left the writers paused: %v", w.docker.vols.calls)
	}
	b := w.create("b").Instance // never started: no volumes
	_, err = w.at(b.Dir).Snapshots().Take(ctx, config.KindSandbox, "x")
	refused(t, err, "has no named volumes")
	if !names(err, fail.Sandbox, "up") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
}

func TestRestoreARunningInstance(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	if _, err := e.Snapshots().Take(ctx, config.KindSandbox, "base"); err != nil {
		t.Fatal(err)
	}
	w.docker.vols.put("acme--a", "db", "v2")
	res, err := e.Snapshots().Restore(ctx, config.KindSandbox, "base", "", StartOptions{NoWait: true})
	if err != nil || res.Snapshot.Name != "base" {
		t.Fatalf("restore: %+v %v", res, err)
	}
	if got := w.docker.vols.content("acme--a", "db"); got != "v1" {
		t.Errorf("volume holds %q, want the snapshot's", got)
	}
	if strings.Join(w.docker.vols.stopped, ",") != "c1,c2" || strings.Join(w.docker.vols.started, ",") != "c1,c2" {
		t.Errorf("users stopped %v, started %v", w.docker.vols.stopped, w.docker.vols.started)
	}
	if _, begun := e.SnapshotStore().Interrupted("acme--a"); begun {
		t.Error("the journal was left behind")
	}
	if len(w.docker.called("up ")) != 0 {
		t.Errorf("a running instance was started with up: %v", w.docker.calls)
	}
	_, err = e.Snapshots().Restore(ctx, config.KindSandbox, "nope", "", StartOptions{NoWait: true})
	refused(t, err, `no snapshot "nope"`)
}

func TestRestoreAStoppedInstanceStartsIt(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	if _, err := e.Snapshots().Take(ctx, config.KindSandbox, "base"); err != nil {
		t.Fatal(err)
	}
	delete(w.docker.vols.running, "acme--a")
	w.docker.vols.put("acme--a", "db", "v2")
	if _, err := e.Snapshots().Restore(ctx, config.KindSandbox, "base", "", StartOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	if w.docker.vols.content("acme--a", "db") != "v1" || len(w.docker.called("up acme--a")) != 1 {
		t.Errorf("data %q, calls %v", w.docker.vols.content("acme--a", "db"), w.docker.calls)
	}
}

// TestAnInterruptedRestoreChangesNothingAndUpRefusesAHalfOne: cut before the swap, the
// volume keeps its data and the stopped users run again; a journal left by a restore cut
// after it began makes up refuse until a restore of that snapshot finishes.
func TestAnInterruptedRestoreChangesNothingAndUpRefusesAHalfOne(t *testing.T) {
	w, e := snapWorld(t)
	if _, err := e.Snapshots().Take(context.Background(), config.KindSandbox, "base"); err != nil {
		t.Fatal(err)
	}
	w.docker.vols.put("acme--a", "db", "v2")
	ctx, cancel := context.WithCancel(context.Background())
	w.docker.vols.cancel = cancel
	_, err := e.Snapshots().Restore(ctx, config.KindSandbox, "base", "", StartOptions{NoWait: true})
	if !errors.Is(err, ErrInterrupted) || !names(err, fail.Sandbox, "restore") || fail.FixOf(err).Commands[0].Args != "-name=base" {
		t.Fatalf("interrupted restore: %v %+v", err, fail.FixOf(err))
	}
	if w.docker.vols.content("acme--a", "db") != "v2" {
		t.Error("an interrupted restore changed the data")
	}
	w.docker.vols.cancel = nil
	if err := e.SnapshotStore().BeginRestore("acme--a", "base"); err != nil {
		t.Fatal(err)
	}
	_, err = e.Up(context.Background(), config.KindSandbox, StartOptions{NoWait: true})
	refused(t, err, "did not finish")
	if !names(err, fail.Sandbox, "restore") {
		t.Errorf("remedy %+v", fail.FixOf(err))
	}
	if _, err := e.Snapshots().Restore(context.Background(), config.KindSandbox, "base", "", StartOptions{NoWait: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Up(context.Background(), config.KindSandbox, StartOptions{NoWait: true}); err != nil {
		t.Errorf("up after the restore finished: %v", err)
	}
}

func TestSeedFromASnapshotAndFromAnInstance(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	if _, err := e.Snapshots().Take(ctx, config.KindSandbox, "base"); err != nil {
		t.Fatal(err)
	}
	w.docker.vols.put("acme--a", "db", "v2")
	if _, err := w.env.Create(ctx, "b", CreateOptions{Seed: "a:base"}); err != nil {
		t.Fatal(err)
	}
	if got := w.docker.vols.content("acme--b", "db"); got != "v1" {
		t.Errorf("seeded from a:base: %q", got)
	}
	c, err := w.env.Create(ctx, "c", CreateOptions{Seed: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.docker.vols.content("acme--c", "db"); got != "v2" {
		t.Errorf("seeded from a now: %q", got)
	}
	if l, _ := e.Snapshots().List(config.KindSandbox, true); len(l.Snapshots) != 1 {
		t.Errorf("the seed's own snapshot was kept: %+v", l)
	}
	if _, err := w.at(c.Instance.Dir).Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true}); err != nil {
		t.Fatal(err) // a free slot for the refusals below
	}
	_, err = w.env.Create(ctx, "d", CreateOptions{Seed: "gone"})
	refused(t, err, "no such instance")
	_, err = w.env.Create(ctx, "d", CreateOptions{Seed: "a:nope"})
	refused(t, err, `no snapshot "nope"`)
	if ids := strings.Join(w.ids(), " "); strings.Contains(ids, "acme--d") {
		t.Errorf("a failed seed kept the instance: %s", ids)
	}
}

func TestGCVolumesRemovesOnlyOrphans(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	w.docker.vols.put("acme--orph", "db", "old data")
	w.docker.vols.put("other-project", "db", "not ours")
	rep, err := e.GC(ctx, GCOptions{Volumes: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, it := range rep.Items {
		if it.Action == OrphanedVolume {
			found = append(found, it.Target)
			if it.Done || it.Bytes != 8 {
				t.Errorf("dry run item %+v", it)
			}
		}
	}
	if strings.Join(found, ",") != "acme--orph_db" {
		t.Fatalf("orphans %v", found)
	}
	if _, err := e.GC(ctx, GCOptions{Volumes: true}); err == nil {
		t.Error("removed volumes without asking")
	}
	if _, err := e.GC(ctx, GCOptions{Volumes: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	if w.docker.vols.content("acme--orph", "db") != "" || w.docker.vols.content("acme--a", "db") != "v1" || w.docker.vols.content("other-project", "db") == "" {
		t.Errorf("after gc: %+v", w.docker.vols.data)
	}
}

// TestDestroyProvesTheEngineHoldsNothingOfTheInstance: what compose built for the
// instance goes and is reported with its size; an image the compose file names is kept
// and said so; anything still labelled after teardown stops destroy (exit 1, named) with
// the worktree and the entry kept.
func TestDestroyProvesTheEngineHoldsNothingOfTheInstance(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	w.docker.containers["acme--a"] = []compose.Container{{Service: "web", Name: "acme--a-web-1", State: "running"}}
	w.docker.images["acme--a"] = []compose.Image{{Ref: "acme--a-web:latest", ID: "1", Bytes: 3 << 20}, {Ref: "acme-app:dev", ID: "2", Bytes: 1 << 20}, {Ref: "<none>@3", ID: "3", Bytes: 5}}
	w.docker.stuck["acme--a-web:latest"] = true
	_, err := e.Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	refused(t, err, "destroy left acme--a on engine local: 1 image (acme--a-web:latest)")
	if len(w.ids()) != 1 || !exists(e.Cwd) {
		t.Fatalf("a teardown that left something went on: %v", w.ids())
	}
	delete(w.docker.stuck, "acme--a-web:latest")
	w.docker.images["acme--a"] = []compose.Image{{Ref: "acme--a-web:latest", ID: "1", Bytes: 3 << 20}, {Ref: "acme-app:dev", ID: "2", Bytes: 1 << 20}}
	w.docker.containers["acme--a"] = []compose.Container{{Service: "web", Name: "acme--a-web-1", State: "running"}}
	w.docker.vols.put("acme--a", "db", "v1")
	res, err := e.Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed.Containers) != 1 || len(res.Removed.Volumes) != 1 || len(res.Removed.Images) != 1 || res.Removed.Images[0].Ref != "acme--a-web:latest" ||
		len(res.Kept) != 1 || res.Kept[0].Ref != "acme-app:dev" {
		t.Errorf("removed %+v kept %+v", res.Removed, res.Kept)
	}
	text := w.prog.text()
	if !strings.Contains(text, "✓ Removed: 1 container, 1 volume (2.0 B), 0 networks, 1 image (3.0 MB)") || !strings.Contains(text, "kept image acme-app:dev (1.0 MB)") {
		t.Errorf("progress:\n%s", text)
	}
}

// TestGCImagesReclaimsWhatInstancesLeft: images of destroyed instances, untagged build
// copies and old helpers go (with sizes, listed first by a dry run); a registered
// instance's tagged image, another project's, the current helper and an image in use
// stay.
func TestGCImagesReclaimsWhatInstancesLeft(t *testing.T) {
	ctx := context.Background()
	w, e := snapWorld(t)
	current := snapshot.HelperImage(platform.Platform{OS: "linux", Arch: "amd64"})
	w.docker.images = map[string][]compose.Image{
		"acme--a":    {{Ref: "acme--a-web:latest", ID: "a1", Bytes: 10}, {Ref: "<none>@a2", ID: "a2", Bytes: 20}},
		"acme--gone": {{Ref: "acme--gone-web:latest", ID: "g1", Bytes: 30}, {Ref: "acme--gone-db:latest", ID: "g2", Bytes: 5}},
		"other":      {{Ref: "other-web:latest", ID: "o1", Bytes: 40}},
		"helper":     {{Ref: current, ID: "h1", Bytes: 1}, {Ref: "sandbox-helper:0123456789ab-linux-amd64", ID: "h0", Bytes: 2}},
	}
	w.docker.stuck["acme--gone-db:latest"] = true // a container still runs it
	rep, err := e.GC(ctx, GCOptions{Images: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, it := range rep.Items {
		if it.Action == LeftImage {
			listed = append(listed, it.Target)
		}
	}
	want := "<none>@a2,acme--gone-db:latest,acme--gone-web:latest,sandbox-helper:0123456789ab-linux-amd64"
	if sortedJoin(listed) != want || len(w.docker.called("rmi")) != 0 {
		t.Fatalf("dry run listed %v (calls %v)", listed, w.docker.calls)
	}
	rep, err = e.GC(ctx, GCOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range rep.Items {
		if it.Action == LeftImage && it.Done == (it.Target == "acme--gone-db:latest") {
			t.Errorf("%+v", it)
		}
	}
	if len(w.docker.images["acme--a"]) != 1 || len(w.docker.images["other"]) != 1 || len(w.docker.images["helper"]) != 1 {
		t.Errorf("left: %+v", w.docker.images)
	}
}

func sortedJoin(s []string) string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return strings.Join(out, ",")
}
