package mcpserver

import (
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
)

func TestAResourcesEnvironmentHoldsNoSecret(t *testing.T) {
	cfg := config.KTRDR() // its table names JWT_SECRET among its secrets
	env := publicEnv(cfg, map[string]string{
		"INSTANCE_ID": "ktrdr--x", "KTRDR_API_PORT": "8001",
		"JWT_SECRET": "s1", "DB_PASSWORD": "s2", "GITHUB_TOKEN": "s3", "OPENAI_API_KEY": "s4",
	})
	for _, k := range []string{"JWT_SECRET", "DB_PASSWORD", "GITHUB_TOKEN", "OPENAI_API_KEY"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s is in the resource's environment", k)
		}
	}
	if env["INSTANCE_ID"] != "ktrdr--x" || env["KTRDR_API_PORT"] != "8001" {
		t.Errorf("the ordinary variables are missing: %v", env)
	}
	for _, f := range cfg.Secrets {
		if _, ok := publicEnv(cfg, map[string]string{f.Env: "v"})[f.Env]; ok {
			t.Errorf("the table's secret %s is in the resource's environment", f.Env)
		}
	}
}
