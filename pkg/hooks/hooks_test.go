package hooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func script(t *testing.T, dir, rel, body string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestHooksRunInTheInstanceWithItsVariables(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(t.TempDir(), "env")
	script(t, dir, ".sandbox/hooks/pre-up", "pwd > "+dump+"\nenv >> "+dump+"\necho hello from the hook\n", 0o755)
	script(t, dir, ".sandbox/hooks/pre-up.d/20-second", "echo second\n", 0o755)
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{
		Event: PreUp, Dir: dir, Env: map[string]string{"INSTANCE_ID": "acme--a", "ACME_WEB_PORT": "17081"},
		Base:       []string{"PATH=/usr/bin:/bin"},
		Configured: []Hook{{Event: PreUp, Name: "table", Command: "sh", Args: []string{"-c", "echo first"}}, {Event: PostUp, Command: "false"}},
		Stdout:     &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "table,.sandbox/hooks/pre-up,.sandbox/hooks/pre-up.d/20-second" {
		t.Errorf("ran %v", names)
	}
	got, _ := os.ReadFile(dump)
	resolved, _ := filepath.EvalSymlinks(dir)
	for _, want := range []string{resolved + "\n", "INSTANCE_ID=acme--a\n", "ACME_WEB_PORT=17081\n", "SANDBOX_HOOK_EVENT=pre-up\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("hook saw no %q in:\n%s", want, got)
		}
	}
	for _, want := range []string{"  [table] first\n", "  [.sandbox/hooks/pre-up] hello from the hook\n", "  [.sandbox/hooks/pre-up.d/20-second] second\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAFailingHookIsNamedAndStopsTheRest(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(t.TempDir(), "ran")
	script(t, dir, ".sandbox/hooks/pre-destroy", "echo no >&2\nexit 3\n", 0o755)
	script(t, dir, ".sandbox/hooks/pre-destroy.d/later", "touch "+marker+"\n", 0o755)
	var errOut bytes.Buffer
	res, err := Run(context.Background(), Options{Event: PreDestroy, Dir: dir, Base: os.Environ(), Stderr: &errOut})
	var he *Error
	if !errors.As(err, &he) || he.Hook != ".sandbox/hooks/pre-destroy" || he.Event != PreDestroy || !strings.Contains(err.Error(), "exit") {
		t.Fatalf("err = %v", err)
	}
	if len(res) != 1 || !strings.Contains(errOut.String(), "[.sandbox/hooks/pre-destroy] no") {
		t.Errorf("results %+v, stderr %q", res, errOut.String())
	}
	if _, statErr := os.Stat(marker); statErr == nil {
		t.Error("a hook after the failing one ran")
	}
	if !PreDestroy.IsPre() || PostUp.IsPre() {
		t.Error("IsPre")
	}
}

func TestAHungHookIsStoppedAtItsTimeout(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, ".sandbox/hooks/post-up", "exec sleep 30\n", 0o755)
	start := time.Now()
	_, err := Run(context.Background(), Options{Event: PostUp, Dir: dir, Base: os.Environ(), Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
}

func TestNoHooksAndUnexecutableHooks(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), Options{Event: PreDown, Dir: dir})
	if err != nil || len(res) != 0 {
		t.Errorf("no hooks: %v %v", res, err)
	}
	script(t, dir, ".sandbox/hooks/pre-down", "exit 0\n", 0o644)
	_, err = Run(context.Background(), Options{Event: PreDown, Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "not executable (chmod +x") {
		t.Errorf("err = %v", err)
	}
}
