package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func sandboxCmd(work, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "sandbox"), args...)
	cmd.Dir = dir
	cmd.Env = env(work)
	return cmd
}

type result struct {
	name   string
	code   int
	stderr string
}

func runAll(t *testing.T, cmds map[string]*exec.Cmd) []result {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var out []result
	for name, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Error(err)
			}
			mu.Lock()
			out = append(out, result{name, code, stderr.String()})
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

type registryFile struct {
	Instances map[string]struct {
		Slot int    `json:"slot"`
		Path string `json:"path"`
	} `json:"instances"`
}

func readRegistry(t *testing.T, work string) registryFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(work, "home", ".ktrdr", "sandbox", "instances.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r registryFile
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("registry is not valid JSON: %v\n%s", err, data)
	}
	return r
}

// Fourteen creates at once: exactly ten win distinct slots, four fail with the
// exhaustion message, and the registry stays valid.
func TestConcurrentCreate(t *testing.T) {
	work := t.TempDir()
	if err := makeRepo(work); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(work, "repo")
	cmds := map[string]*exec.Cmd{}
	for i := 0; i < 14; i++ {
		name := "c" + strconv.Itoa(i)
		cmds[name] = sandboxCmd(work, repo, "sandbox:create", name)
	}
	results := runAll(t, cmds)
	ok, exhausted := 0, 0
	for _, r := range results {
		switch {
		case r.code == 0:
			ok++
		case r.code == 1 && strings.Contains(r.stderr, "all 10 sandbox slots are in use"):
			exhausted++
		default:
			t.Errorf("%s: exit %d: %s", r.name, r.code, r.stderr)
		}
	}
	if ok != 10 || exhausted != 4 {
		t.Fatalf("%d succeeded and %d hit exhaustion, want 10 and 4", ok, exhausted)
	}
	reg := readRegistry(t, work)
	slots := map[int]string{}
	for id, in := range reg.Instances {
		if other, dup := slots[in.Slot]; dup {
			t.Errorf("slot %d given to %s and %s", in.Slot, other, id)
		}
		slots[in.Slot] = id
		if _, err := os.Stat(filepath.Join(in.Path, ".env.sandbox")); err != nil {
			t.Errorf("%s registered without its env file: %v", id, err)
		}
	}
	if len(reg.Instances) != 10 {
		t.Fatalf("%d registered", len(reg.Instances))
	}
	// The losers left nothing behind.
	entries, _ := os.ReadDir(work)
	dirs := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "ktrdr--") {
			dirs++
		}
	}
	if dirs != 10 {
		t.Errorf("%d sandbox directories, want 10", dirs)
	}

	// Destroy all ten at once, while two more creates race for the freed slots.
	cmds = map[string]*exec.Cmd{}
	for id, in := range reg.Instances {
		cmds["destroy "+id] = sandboxCmd(work, in.Path, "sandbox:destroy", "-force")
	}
	cmds["create late1"] = sandboxCmd(work, repo, "sandbox:create", "late1")
	cmds["create late2"] = sandboxCmd(work, repo, "sandbox:create", "late2")
	for _, r := range runAll(t, cmds) {
		if strings.HasPrefix(r.name, "destroy") && r.code != 0 {
			t.Errorf("%s: exit %d: %s", r.name, r.code, r.stderr)
		}
		if strings.HasPrefix(r.name, "create") && r.code != 0 && !strings.Contains(r.stderr, "all 10 sandbox slots") {
			t.Errorf("%s: exit %d: %s", r.name, r.code, r.stderr)
		}
	}
	reg = readRegistry(t, work)
	seen := map[int]bool{}
	for id, in := range reg.Instances {
		if !strings.HasPrefix(id, "ktrdr--late") || seen[in.Slot] {
			t.Errorf("unexpected entry %s on slot %d", id, in.Slot)
		}
		seen[in.Slot] = true
	}
}
