package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownImageCompose is a stack that builds its own image (no image: name, so compose names
// it <project>-<service>), keeps a named volume, and has a service only a profile starts.
const ownImageCompose = `services:
  web:
    build:
      context: ./demo
    pull_policy: never
    command: ["backend"]
    environment:
      DB_ADDR: 127.0.0.1:1
    volumes:
      - data:/var/lib/postgresql/data
    stop_grace_period: 1s
  hidden:
    build:
      context: ./demo
    pull_policy: never
    command: ["worker"]
    profiles: ["local-prod"]
    stop_grace_period: 1s
volumes:
  data: {}
`

// TestDockerDestroyLeavesNothingLabelled: a sandbox whose stack builds its own image and
// has a service only a profile starts is destroyed; destroy says what it freed, and the
// engine then holds no container, volume, network or image labelled with it.
func TestDockerDestroyLeavesNothingLabelled(t *testing.T) {
	s := newStack(t)
	s.cleanup("ktrdr--own")
	label := "label=com.docker.compose.project=ktrdr--own"
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "image", "ls", "-q", "--filter", label).Output(); err == nil {
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				bounded(t, 60*time.Second, "docker", append([]string{"image", "rm", "-f"}, ids...)...)
			}
		}
	})
	repo := filepath.Join(s.work, "repo")
	s.must(repo, "sandbox:create", "own")
	dir := filepath.Join(s.work, "ktrdr--own")
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.sandbox.yml"), []byte(ownImageCompose), 0o644); err != nil {
		t.Fatal(err)
	}
	s.must(dir, "sandbox:up", "-noSecrets", "-noWait")
	// the profile's service, started by hand as a user of local-prod's profile would
	compose := exec.Command("docker", "compose", "--project-name", "ktrdr--own", "--file", "docker-compose.sandbox.yml", "--profile", "local-prod", "up", "-d", "hidden")
	compose.Dir = dir
	compose.Env = append(env(s.work), "COMPOSE_PROJECT_NAME=ktrdr--own")
	if out, err := compose.CombinedOutput(); err != nil {
		t.Fatalf("profile service: %v\n%s", err, out)
	}
	if got := docker(t, "image", "ls", "--filter", label, "--format", "{{.Repository}}"); !strings.Contains(got, "ktrdr--own-web") {
		t.Fatalf("the stack did not build its own image: %q", got)
	}
	out := s.must(dir, "sandbox:destroy", "-force", "-discardChanges") // the compose file was changed above
	t.Logf("destroy said:\n%s", out)
	if !strings.Contains(out, "✓ Removed: 2 containers, 1 volume") || !strings.Contains(out, "1 network") || !strings.Contains(out, "image") {
		t.Errorf("destroy did not say what it freed:\n%s", out)
	}
	for _, kind := range [][]string{{"ps", "-a"}, {"volume", "ls"}, {"network", "ls"}, {"image", "ls"}} {
		args := append(kind, "-q", "--filter", label)
		if got := strings.TrimSpace(docker(t, args...)); got != "" {
			t.Errorf("docker %s still lists %q after destroy", strings.Join(kind, " "), got)
		}
	}
}
