package core

import (
	"bytes"
	"context"
	"fmt"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/gitx"
)

// recordingDocker puts a `docker` on PATH that answers the version and info queries, lists no
// containers, and appends each compose call's arguments (and, for up, its environment)
// to files in dir, so the exact invocations the contract names can be checked without
// an engine.
func recordingDocker(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	script := `#!/bin/sh
case "$1 $2" in
  "version --format") echo 20.10.24; exit 0 ;;
  "compose version") echo 2.40.3; exit 0 ;;
  "info --format") printf 'linux\nx86_64\n8589934592\n2\nDebian\n'; exit 0 ;;
  "ps --all"|"ps --filter"|"stats --no-stream") exit 0 ;;
  "system df") echo '[]'; exit 0 ;;
esac
echo "$*" >> "` + dir + `/calls"
case " $* " in *" up "*) env > "` + dir + `/up.env" ;; esac
exit 0
`
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	path := dir + ":/usr/bin:/bin"
	t.Setenv("PATH", path) // programs are found through this process's PATH
	return dir, []string{"PATH=" + path, "KTRDR_API_PORT=1", "COMPOSE_PROJECT_NAME=from-shell"}
}

func newInstance(t *testing.T, cfg config.Config, id string, slot int) *Instance {
	t.Helper()
	dir := t.TempDir()
	if err := envfile.Write(filepath.Join(dir, cfg.EnvFile), EnvVars(cfg, "/h", id, slot, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cfg.ComposeFile), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Load(cfg, config.KindSandbox, dir)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func calls(t *testing.T, dir string) []string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestLocalProdUpUsesItsProfileModeAndTheEnvFile(t *testing.T) {
	cfg := config.KTRDR()
	cfg.PortOffset = 30000 // the port check runs for real; stay clear of anything running
	dir, env := recordingDocker(t)
	in := newInstance(t, cfg, cfg.LocalProd.InstanceID, cfg.LocalProd.Slot)
	var out bytes.Buffer
	h := testEnv(t, cfg, in.Dir, env, &out)
	registerLocalProd(t, h, in)
	if _, err := h.Up(context.Background(), config.KindLocalProd, StartOptions{NoWait: true, NoSecrets: true}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var up string
	for _, c := range calls(t, dir) {
		if strings.Contains(c, " up ") {
			up = c
		}
	}
	want := "compose --project-name ktrdr-prod --project-directory " + in.Dir + " --file " + filepath.Join(in.Dir, cfg.ComposeFile) + " --profile local-prod up --detach"
	if !strings.HasPrefix(up, want) {
		t.Fatalf("up call %q, want prefix %q", up, want)
	}
	upEnv, _ := os.ReadFile(filepath.Join(dir, "up.env"))
	for _, kv := range []string{"KTRDR_ENV=production", "KTRDR_API_PORT=38000", "COMPOSE_PROJECT_NAME=ktrdr-prod"} {
		if !strings.Contains("\n"+string(upEnv), "\n"+kv+"\n") {
			t.Errorf("compose's environment lacks %s", kv)
		}
	}
}

func TestDownKeepsVolumesUnlessAskedAndLogsTailDefaults(t *testing.T) {
	cfg := config.KTRDR()
	dir, env := recordingDocker(t)
	in := newInstance(t, cfg, "ktrdr--x", 1)
	var out bytes.Buffer
	h := testEnv(t, cfg, in.Dir, env, &out)
	ctx := context.Background()
	if _, err := h.Down(ctx, config.KindSandbox, DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Down(ctx, config.KindSandbox, DownOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if err := h.Logs(ctx, config.KindSandbox, LogOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := h.Logs(ctx, config.KindSandbox, LogOptions{Service: "backend", Follow: true, Tail: 5}); err != nil {
		t.Fatal(err)
	}
	got := calls(t, dir)
	suffixes := []string{"down --remove-orphans", "down --remove-orphans --volumes", "logs --tail 100", "logs --tail 5 --follow -- backend"}
	if len(got) != len(suffixes) {
		t.Fatalf("calls %q", got)
	}
	for i, s := range suffixes {
		if !strings.HasSuffix(got[i], s) || !strings.Contains(got[i], "--project-name ktrdr--x") || strings.Contains(got[i], "--profile") {
			t.Errorf("call %d = %q, want a sandbox-scoped call ending %q", i, got[i], s)
		}
	}
}

// testEnv is an Env on the real docker CLI (whatever docker PATH finds) with a temporary
// home, run from cwd, printing everything to out.
func testEnv(t *testing.T, cfg config.Config, cwd string, vars []string, out *bytes.Buffer) *Env {
	t.Helper()
	e, err := New(Env{Config: cfg, Home: t.TempDir(), Cwd: cwd, Vars: vars, Out: out, Err: out,
		Docker: NewCLI(vars), Git: gitx.Git{Env: vars}, Secrets: fakeSecrets{}, Progress: textProgress{out}, LockWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func registerLocalProd(t *testing.T, e *Env, in *Instance) {
	t.Helper()
	err := e.RegistryStore().Update(context.Background(), func(f *registry.File) error {
		f.LocalProd = &registry.Instance{InstanceID: in.ID, Slot: in.Slot, Path: in.Dir}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// textProgress writes progress as lines, as a terminal would show it.
type textProgress struct{ w io.Writer }

func (p textProgress) Step(msg string) { fmt.Fprintln(p.w, msg) }
func (p textProgress) Warn(msg string) { fmt.Fprintln(p.w, "Warning: "+msg) }
func (p textProgress) Meter(label string) shared.Progress {
	return shared.NewProgress(p.w, label, false, time.Hour)
}
