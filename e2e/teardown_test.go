package e2e

import (
	"fmt"
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
	t.Cleanup(func() { removeImagesOf(t, "ktrdr--own") })
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

// namedImageCompose has one service compose names itself (<project>-own) and one whose
// image: names a tag other instances share (IMAGE_TAG), both built from the demo with a
// marker file that differs from worktree to worktree: a build in another worktree gives
// another image.
const namedImageCompose = `services:
  own:
    build:
      context: ./demo
      dockerfile: Dockerfile.marked
    pull_policy: never
    command: ["worker"]
    stop_grace_period: 1s
  shared:
    image: ${IMAGE_TAG}
    build:
      context: ./demo
      dockerfile: Dockerfile.marked
    pull_policy: never
    command: ["worker"]
    stop_grace_period: 1s
`

const markedDockerfile = "FROM scratch\nCOPY bin/demo /demo\nCOPY marker /marker\nENTRYPOINT [\"/demo\"]\n"

// TestDockerDestroyKeepsAnImageTheComposeFileNames: compose's `down --rmi local` removes
// the image of every service that has build:, even one whose image: names a tag another
// instance runs; destroy removes only what this instance built under its own name, keeps
// the named tag and says so, and the next instance's up does not build it again.
func TestDockerDestroyKeepsAnImageTheComposeFileNames(t *testing.T) {
	s := newStack(t)
	tag := fmt.Sprintf("ktrdr-e2e-named:%d", os.Getpid())
	s.extra = append(s.extra, "IMAGE_TAG="+tag)
	t.Cleanup(func() { // after the projects' containers are gone (cleanups run last first)
		removeImagesOf(t, "ktrdr--named-a", "ktrdr--named-b")
		bounded(t, 60*time.Second, "docker", "image", "rm", "-f", tag)
	})
	s.cleanup("ktrdr--named-a", "ktrdr--named-b")
	repo := filepath.Join(s.work, "repo")
	up := func(name string) (dir, out string) {
		s.must(repo, "sandbox:create", name)
		dir = filepath.Join(s.work, "ktrdr--"+name)
		for file, content := range map[string]string{"docker-compose.sandbox.yml": namedImageCompose,
			"demo/Dockerfile.marked": markedDockerfile, "demo/marker": name} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir, s.must(dir, "sandbox:up", "-noSecrets", "-noWait")
	}
	id := func(ref string) string {
		return strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", ref))
	}
	dirA, _ := up("named-a")
	built := id(tag)

	out := s.must(dirA, "sandbox:destroy", "-force", "-discardChanges")
	t.Logf("destroy said:\n%s", out)
	if !strings.Contains(out, "kept image "+tag) {
		t.Errorf("destroy did not say it kept %s:\n%s", tag, out)
	}
	if got := strings.TrimSpace(docker(t, "image", "ls", "--quiet", "ktrdr--named-a-own")); got != "" {
		t.Errorf("destroy left the image compose built under the instance's name (%s)", got)
	}
	if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", tag).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != built {
		t.Fatalf("destroy removed %s, which the compose file names (other instances run it): %v %s", tag, err, out)
	}

	// b's marker differs: the shared image would be another if b built it again instead
	// of running the one a left
	up("named-b")
	if got := id(tag); got != built {
		t.Errorf("the next instance's up built %s again (%s, was %s)", tag, got, built)
	}
}

// removeImagesOf removes the images labelled with the compose projects, whatever failed.
func removeImagesOf(t *testing.T, projects ...string) {
	for _, p := range projects {
		out, err := exec.Command("docker", "image", "ls", "-q", "--filter", "label=com.docker.compose.project="+p).Output()
		if ids := strings.Fields(string(out)); err == nil && len(ids) > 0 {
			bounded(t, 60*time.Second, "docker", append([]string{"image", "rm", "-f"}, ids...)...)
		}
	}
}
