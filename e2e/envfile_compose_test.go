package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/envfile"
)

// The env-file writer's promise: docker compose reads every value back exactly as
// godotenv does. Checked against the real compose, through `docker compose config`.
func TestEnvFileReadsTheSameInCompose(t *testing.T) {
	requireDocker(t)
	values := map[string]string{
		"PLAIN":    "/home/user/.ktrdr/shared/data",
		"SPACES":   "/home/some user/my data",
		"HASH":     "a #b",
		"DOLLAR":   "pa$word$$x",
		"BACKTICK": "a`b`",
		"DQUOTE":   `say "hi"`,
		"BACKSL":   `C:\dir\x`,
		"URLISH":   "http://localhost:8000/a?b=c&d=e",
		"EMPTY":    "",
		"EQUALS":   "a=b=c",
		"UNICODE":  "café ☕",
	}
	dir := t.TempDir()
	data, err := envfile.Format(values)
	if err != nil {
		t.Fatal(err)
	}
	envPath := filepath.Join(dir, ".env.sandbox")
	if err := os.WriteFile(envPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	compose := "services:\n  s:\n    image: scratch\n    env_file: [.env.sandbox]\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "compose", "--project-name", "envcheck", "--project-directory", dir, "-f", filepath.Join(dir, "compose.yml"), "config", "--format", "json")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+realEnv["DOCKER_CONFIG"])
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("compose config: %v\n%s", err, out)
	}
	var cfg struct {
		Services map[string]struct {
			Environment map[string]*string `json:"environment"`
		} `json:"services"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	got := cfg.Services["s"].Environment
	back, err := envfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range values {
		c := ""
		if got[k] != nil {
			// config prints a compose file, where a literal $ is written $$
			c = strings.ReplaceAll(*got[k], "$$", "$")
		}
		if c != want || back[k] != want {
			t.Errorf("%s: wrote %q; compose read %q, godotenv read %q\nfile:\n%s", k, want, c, back[k], data)
		}
	}
}
