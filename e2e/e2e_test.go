// Package e2e drives the real Mage targets, compiled with `mage -compile`, against real
// git repositories in temporary directories, with HOME pointed at a temporary home and
// every host port moved by SANDBOX_PORT_OFFSET so no developer's stack is touched.
package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"errors"

	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"
)

// portOffset moves every host port of the suites (8001 → 28001 ...).
const portOffset = 20000

var (
	repoRoot  string // this repository
	binDir    string // holds the compiled targets as `sandbox`
	realEnv   = map[string]string{}
	demoImage string // a tag unique to this build of the demo program
	setupFail error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	repoRoot = root
	tmp, err := os.MkdirTemp("", "sandbox-e2e-bin-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	binDir = tmp
	cmd := exec.Command("go", "tool", "mage", "-compile", filepath.Join(binDir, "sandbox"))
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "mage -compile: %v\n%s", err, out)
		return 1
	}
	demoSrc, err := os.ReadFile(filepath.Join(repoRoot, "demo", "main.go"))
	if err != nil {
		panic(err)
	}
	dockerfile, _ := os.ReadFile(filepath.Join(repoRoot, "demo", "Dockerfile"))
	demoImage = fmt.Sprintf("ktrdr-sandbox-demo:e2e-%x", sha256.Sum256(append(demoSrc, dockerfile...)))[:len("ktrdr-sandbox-demo:e2e-")+12]
	// Children run with a fake HOME; keep Go's caches and Docker's CLI plugins where
	// they really are.
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, _ := exec.Command("go", "env", k).Output()
		realEnv[k] = strings.TrimSpace(string(out))
	}
	home, _ := os.UserHomeDir()
	realEnv["DOCKER_CONFIG"] = os.Getenv("DOCKER_CONFIG")
	if realEnv["DOCKER_CONFIG"] == "" {
		realEnv["DOCKER_CONFIG"] = filepath.Join(home, ".docker")
	}
	code := m.Run()
	// The suites build the demo image under a tag of their own; leave no tag behind.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = exec.CommandContext(ctx, "docker", "image", "rm", "-f", demoImage).Run()
	// and none of the untagged copies compose's one-build-per-service leaves
	_ = exec.CommandContext(ctx, "docker", "image", "prune", "-f", "--filter", "label=sandbox.demo=1").Run()
	return code
}

// env is the environment of a command run by the suites in work.
func env(work string) []string {
	home := filepath.Join(work, "home")
	vars := []string{
		"HOME=" + home,
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"SANDBOX_PORT_OFFSET=" + strconv.Itoa(portOffset),
		"CGO_ENABLED=0",
		"KTRDR_DEMO_IMAGE=" + demoImage,
	}
	for k, v := range realEnv {
		vars = append(vars, k+"="+v)
	}
	return vars
}

// makeRepo creates work/repo: a git repository holding what the stack needs (the compose
// file, the demo program, go.mod) in one commit, and an empty home.
func makeRepo(work string) error {
	if err := os.MkdirAll(filepath.Join(work, "home"), 0o755); err != nil {
		return err
	}
	repo := filepath.Join(work, "repo")
	for _, f := range []string{"docker-compose.sandbox.yml", "go.mod", "go.sum", ".gitignore", "demo/main.go", "demo/Dockerfile"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, f)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(repo, f), data, 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "initial"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = env(work)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %v: %s", args, err, out)
		}
	}
	return nil
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Vars = append(e.Vars, env(e.WorkDir)...)
			realDocker, _ := exec.LookPath("docker")
			e.Vars = append(e.Vars, "REAL_DOCKER="+realDocker)
			e.Vars = append(e.Vars, "OFFSET="+strconv.Itoa(portOffset), "SCRIPTS="+filepath.Join(repoRoot, "scripts"), "SANDBOX_BIN="+binDir)
			e.Cd = filepath.Join(e.WorkDir, "repo")
			return makeRepo(e.WorkDir)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"holdport": holdPort,
			"code":     exitCode,
			"holdlock": holdLock,
		},
		RequireExplicitExec: true,
	})
}

// holdport PORT: listen on 127.0.0.1:PORT until the script ends, as a foreign process would.
func holdPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdport PORT")
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+args[0])
	ts.Check(err)
	ts.Defer(func() { l.Close() })
}

// code N PROG ARGS...: run PROG like exec and require exit status N; stdout and stderr
// are then available to the stdout and stderr commands.
func exitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: code N prog args...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// holdlock PATH: hold an exclusive lock on PATH until the script ends, recording this
// process's pid in it the way the tool does.
func holdLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdlock PATH")
	}
	path := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
	fl := flock.New(path)
	ok, err := fl.TryLock()
	ts.Check(err)
	if !ok {
		ts.Fatalf("%s is already locked", path)
	}
	ts.Check(os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644))
	ts.Defer(func() { _ = fl.Unlock() })
}
