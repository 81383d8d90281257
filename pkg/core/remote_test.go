package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
)

// downEngine is a remote engine whose host refuses every connection: a fake ssh on PATH
// answers as OpenSSH does for a host that is down, at once.
const downEngine = "ssh://deploy@box.invalid:2222"

func withDeadSSH(t *testing.T, w *world) {
	t.Helper()
	bin := t.TempDir()
	mustWrite(t, filepath.Join(bin, "ssh"), "#!/bin/sh\necho 'ssh: connect to host box.invalid port 2222: Connection refused' >&2\nexit 255\n")
	if err := os.Chmod(filepath.Join(bin, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := bin + ":" + os.Getenv("PATH")
	t.Setenv("PATH", path)
	w.env.Vars = []string{"PATH=" + path}
}

// TestAnEngineThatIsGoneDeletesNothingAndSaysSo: every command on an instance whose
// engine does not answer reports it unreachable (status and list as a state, the others
// as an error naming the ssh command to try), and nothing is deleted.
func TestAnEngineThatIsGoneDeletesNothingAndSaysSo(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	withDeadSSH(t, w)
	eng, err := engine.Parse(downEngine)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.env.Create(ctx, "far", CreateOptions{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	e := w.at(res.Instance.Dir)
	if got, _ := e.EngineOf("acme--far"); got.Endpoint != downEngine {
		t.Fatalf("engine recorded as %+v", got)
	}
	rep, err := e.Status(ctx, config.KindSandbox)
	if err != nil || rep.State != Unreachable || rep.Engine != downEngine || !strings.Contains(rep.Error, "Connection refused") {
		t.Errorf("status: %+v %v", rep, err)
	}
	l, err := e.List(ctx)
	if err != nil || len(l.Instances) != 1 || l.Instances[0].State != Unreachable || l.Instances[0].Engine != downEngine {
		t.Errorf("list: %+v %v", l, err)
	}
	unreachable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, engine.ErrUnreachable) || !strings.Contains(fail.FixOf(err).Text, "ssh -p 2222 deploy@box.invalid docker version") {
			t.Errorf("%s: %v (%+v)", what, err, fail.FixOf(err))
		}
	}
	_, err = e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true})
	unreachable("up", err)
	_, err = e.Down(ctx, config.KindSandbox, DownOptions{})
	unreachable("down", err)
	_, err = e.Snapshots().Take(ctx, config.KindSandbox, "x")
	unreachable("snapshot", err)
	_, err = e.Sync(ctx, config.KindSandbox)
	unreachable("sync", err)
	unreachable("logs", e.Logs(ctx, config.KindSandbox, LogOptions{}))
	_, err = e.Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true})
	unreachable("destroy", err)
	if len(w.ids()) != 1 || !exists(res.Instance.Dir) {
		t.Fatal("destroy on a gone engine deleted something")
	}
	// gc keeps a stale entry whose engine does not answer: its containers may run there
	if err := os.RemoveAll(res.Instance.Dir); err != nil {
		t.Fatal(err)
	}
	g, err := e.GC(ctx, GCOptions{})
	if err != nil || len(w.ids()) != 1 {
		t.Errorf("gc removed the entry of an instance on a gone engine: %+v %v %v", g, err, w.ids())
	}
	d := e.Doctor(ctx)
	found := false
	for _, f := range d.Findings {
		if f.Check == "engine "+downEngine {
			found = !f.OK && strings.Contains(f.Detail, "Connection refused")
		}
	}
	if !found {
		t.Errorf("doctor did not name the engine: %+v", d.Findings)
	}
}

func TestParseAndResolveEngine(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	withDeadSSH(t, w)
	e := w.env
	if eng, err := e.ResolveEngine(ctx, "", ""); err != nil || !eng.Local() {
		t.Errorf("no flags: %+v %v", eng, err)
	}
	_, err := e.ParseEngine(ctx, downEngine, "ctx")
	if fail.Code(err) != 2 {
		t.Errorf("both: %v", err)
	}
	_, err = e.ParseEngine(ctx, "tcp://box:2375", "")
	if fail.Code(err) != 2 || !errors.Is(err, engine.ErrEndpoint) {
		t.Errorf("tcp: %v", err)
	}
	_, err = e.ResolveEngine(ctx, downEngine, "")
	if !errors.Is(err, engine.ErrUnreachable) {
		t.Errorf("resolve a gone engine: %v", err)
	}
	// a broken engines.json is said, never taken as "all local"
	mustWrite(t, e.records().Path, "{not json")
	if _, err := e.EngineOf("acme--x"); err == nil || !strings.Contains(fail.FixOf(err).Text, "move it away") {
		t.Errorf("broken engines.json: %v", err)
	}
}
