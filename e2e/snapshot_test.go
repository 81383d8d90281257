package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

func addRow(t *testing.T, port int, row string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/api/v1/rows", port), "text/plain", strings.NewReader(row))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST row %q: %d", row, resp.StatusCode)
	}
}

func rows(t *testing.T, port int) string {
	t.Helper()
	code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/rows", port))
	var r struct{ Rows []string }
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("GET rows on %d: %d %s", port, code, body)
	}
	return strings.Join(r.Rows, ",")
}

// Snapshot → change → restore shows the old rows; a new sandbox seeded from a snapshot
// starts with them; a snapshot killed midway is never listed; a restore killed midway
// blocks up until the next restore finishes it; destroy -snapshot keeps the data;
// gc -volumes removes only orphans; local-prod's destroy keeps a snapshot by default.
func TestDockerSnapshots(t *testing.T) {
	s := newStack(t)
	s.cleanup("ktrdr--snap", "ktrdr--seeded", "ktrdr-prod")
	t.Cleanup(func() {
		// a restore killed on purpose below leaves its helper running until the next
		// restore removes it; the last restore did, but leave nothing if a step failed
		if out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=sandbox.snapshot-helper").Output(); err == nil {
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				bounded(t, 60*time.Second, "docker", append([]string{"rm", "-f"}, ids...)...)
			}
		}
		bounded(t, 30*time.Second, "docker", "volume", "rm", "-f", "ktrdr--orph_data")
		if eng, err := platform.Learn(context.Background(), nil); err == nil {
			bounded(t, 30*time.Second, "docker", "image", "rm", "-f", snapshot.HelperImage(eng.Platform))
		}
	})
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:create", "snap")
	dir := filepath.Join(s.work, "ktrdr--snap")
	s.must(dir, "sandbox:up", "-noSecrets")
	api := 28001
	addRow(t, api, "first")
	addRow(t, api, "second")

	out := s.must(dir, "sandbox:snapshot", "-name=base")
	if !strings.Contains(out, "Snapshot base of ktrdr--snap: 1 volume(s)") {
		t.Errorf("snapshot:\n%s", out)
	}
	if got := rows(t, api); got != "first,second" {
		t.Fatalf("rows after the snapshot (writers were paused, not stopped): %q", got)
	}
	addRow(t, api, "third")
	if out := s.must(dir, "sandbox:snapshots"); !strings.Contains(out, "base") {
		t.Errorf("snapshots:\n%s", out)
	}
	out = s.must(dir, "sandbox:restore", "-name=base", "-noSecrets")
	if !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("restore:\n%s", out)
	}
	if got := rows(t, api); got != "first,second" {
		t.Fatalf("rows after restore: %q, want the snapshot's", got)
	}

	// a new sandbox seeded from the snapshot starts with its rows
	s.must(repo, "sandbox:create", "seeded", "-seed=ktrdr--snap:base")
	seeded := filepath.Join(s.work, "ktrdr--seeded")
	s.must(seeded, "sandbox:up", "-noSecrets")
	addRow(t, 28002, "seeded-only")
	if got := rows(t, 28002); got != "first,second,seeded-only" {
		t.Errorf("seeded rows: %q", got)
	}

	// killed after the first volume: the snapshot is not listed, the writers thaw at up
	killed(t, crashCmd(s.work, dir, "snapshot:volume", "sandbox:snapshot", "-name=cut"))
	if out := s.must(dir, "sandbox:snapshots"); strings.Contains(out, "cut") {
		t.Errorf("a snapshot cut short is listed:\n%s", out)
	}
	s.must(dir, "sandbox:up", "-noSecrets")
	if got := rows(t, api); got != "first,second" {
		t.Errorf("rows after the killed snapshot: %q", got)
	}

	// killed once the restore began: up refuses, the next restore finishes it
	addRow(t, api, "after")
	killed(t, crashCmd(s.work, dir, "restore:begun", "sandbox:restore", "-name=base", "-noSecrets"))
	if out, code := s.run(dir, "sandbox:up", "-noSecrets"); code != 1 || !strings.Contains(out, "did not finish") || !strings.Contains(out, "sandbox:restore -name=base") {
		t.Errorf("up after a killed restore: exit %d\n%s", code, out)
	}
	s.must(dir, "sandbox:restore", "-name=base", "-noSecrets")
	if got := rows(t, api); got != "first,second" {
		t.Errorf("rows after the finished restore: %q", got)
	}

	// destroy -snapshot keeps the data; snapshots -all shows the destroyed instance's
	out = s.must(seeded, "sandbox:destroy", "-force", "-snapshot")
	if !strings.Contains(out, "Snapshot kept: before-destroy-") {
		t.Errorf("destroy -snapshot:\n%s", out)
	}
	if out := s.must(repo, "sandbox:snapshots", "-all"); !strings.Contains(out, "ktrdr--seeded (destroyed)") {
		t.Errorf("snapshots -all:\n%s", out)
	}

	// gc -volumes: only the orphan, never a registered instance's volume
	docker(t, "volume", "create", "--label", "com.docker.compose.project=ktrdr--orph", "ktrdr--orph_data")
	out = s.must(repo, "sandbox:gc", "-volumes", "-dryRun")
	if !strings.Contains(out, "would remove volume ktrdr--orph_data of ktrdr--orph") || strings.Contains(out, "ktrdr--snap_postgres_data") {
		t.Errorf("gc -volumes -dryRun:\n%s", out)
	}
	if out, code := s.run(repo, "sandbox:gc", "-volumes"); code != 1 || !strings.Contains(out, "-force") {
		t.Errorf("gc -volumes without a terminal: exit %d\n%s", code, out)
	}
	s.must(repo, "sandbox:gc", "-volumes", "-force")
	vols := docker(t, "volume", "ls", "-q")
	if strings.Contains(vols, "ktrdr--orph_data") || !strings.Contains(vols, "ktrdr--snap_postgres_data") {
		t.Errorf("volumes after gc -volumes -force: %s", vols)
	}

	// local-prod's data is real: destroy keeps a snapshot unless -noSnapshot
	prod := filepath.Join(s.work, "prod")
	if out, err := exec.Command("git", "clone", "-q", repo, prod).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v %s", err, out)
	}
	s.must(dir, "sandbox:down")
	s.must(prod, "localProd:init")
	s.must(prod, "localProd:up", "-noSecrets")
	addRow(t, 28000, "real")
	if out := s.must(prod, "localProd:destroy", "-force"); !strings.Contains(out, "Snapshot kept: before-destroy-") {
		t.Errorf("localProd:destroy:\n%s", out)
	}
	s.must(prod, "localProd:init")
	s.must(prod, "localProd:up", "-noSecrets")
	before := strings.Count(s.must(repo, "sandbox:snapshots", "-all"), "ktrdr-prod")
	s.must(prod, "localProd:destroy", "-force", "-noSnapshot")
	if after := strings.Count(s.must(repo, "sandbox:snapshots", "-all"), "ktrdr-prod"); after != before {
		t.Errorf("-noSnapshot took one: %d → %d", before, after)
	}
	s.must(dir, "sandbox:destroy", "-force")
}
