package core

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
)

// TestInitSharedNamesTheRunningInstancesThatMountWhatItReplaced: -minimal makes the
// structure and keeps data; -from replaces a subdirectory, and a running instance that
// mounts it is named as needing a restart (a bind mount holds the old directory).
func TestInitSharedNamesTheRunningInstancesThatMountWhatItReplaced(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.env.Config.Shared = []config.SharedSubdir{{Name: "data", Env: "ACME_DATA_DIR"}, {Name: "models", Env: "ACME_MODELS_DIR"}}
	res, err := w.env.InitShared(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"data", "models"} {
		if fi, err := os.Stat(filepath.Join(w.env.SharedPath(), sub)); err != nil || !fi.IsDir() {
			t.Errorf("minimal did not make %s: %v (%+v)", sub, err, res)
		}
	}
	a := w.create("a").Instance
	w.create("b")
	w.docker.states["acme--a"] = compose.Counts{Running: 2, Total: 2}
	src := t.TempDir()
	mustWrite(t, filepath.Join(src, "data", "prices.csv"), "1,2,3\n")
	res, err = w.env.InitShared(ctx, src, false)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(w.env.SharedPath(), "data", "prices.csv")); err != nil || string(b) != "1,2,3\n" {
		t.Errorf("data not copied: %q %v", b, err)
	}
	if len(res.Restart) != 1 || !strings.HasPrefix(res.Restart[0], "acme--a ("+a.Dir) {
		t.Errorf("restart %v (%q)", res.Restart, res.RestartUnknown)
	}
	_, err = w.env.InitShared(ctx, filepath.Join(src, "missing"), false)
	refused(t, err, "Source not found")
}

func TestUpWaitsForTheGate(t *testing.T) {
	w := newWorld(t)
	a := w.create("a").Instance
	res, err := w.at(a.Dir).Up(context.Background(), config.KindSandbox, StartOptions{})
	if err != nil || !res.Waited || !res.Gate.Passed() {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestParseEngineFacts(t *testing.T) {
	v, free := parseEngineFacts("27.3.1\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 50 2048 50% /\n")
	if v != "27.3.1" || free != 2048<<10 {
		t.Errorf("%q %d", v, free)
	}
	if _, free := parseEngineFacts("27.3.1\n"); free != -1 {
		t.Errorf("no df: %d", free)
	}
}
