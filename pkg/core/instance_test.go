package core

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
)

func TestEnvVarsHaveEveryContractKeyAndNoMore(t *testing.T) {
	cfg := config.KTRDR()
	vars := EnvVars(cfg, "/home/u", "ktrdr--x", 1, time.Date(2026, 1, 20, 21, 21, 22, 123456000, time.UTC))
	want := map[string]string{
		"COMPOSE_PROJECT_NAME": "ktrdr--x", "INSTANCE_ID": "ktrdr--x", "SLOT_NUMBER": "1",
		"CREATED_AT": "2026-01-20T21:21:22.123456+00:00", "SANDBOX_VERSION": "1",
		"KTRDR_SHARED_DIR": "/home/u/.ktrdr/shared", "KTRDR_DATA_DIR": "/home/u/.ktrdr/shared/data",
		"KTRDR_MODELS_DIR": "/home/u/.ktrdr/shared/models", "KTRDR_STRATEGIES_DIR": "/home/u/.ktrdr/shared/strategies",
		"KTRDR_API_PORT": "8001", "KTRDR_DB_PORT": "5433", "KTRDR_GRAFANA_PORT": "3001",
		"KTRDR_JAEGER_UI_PORT": "16687", "KTRDR_JAEGER_OTLP_GRPC_PORT": "4327", "KTRDR_JAEGER_OTLP_HTTP_PORT": "4328",
		"KTRDR_PROMETHEUS_PORT": "9091", "KTRDR_WORKER_PORT_1": "5011", "KTRDR_WORKER_PORT_2": "5012",
		"KTRDR_WORKER_PORT_3": "5013", "KTRDR_WORKER_PORT_4": "5014",
	}
	if len(vars) != len(want) {
		t.Errorf("%d keys, want %d", len(vars), len(want))
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q", k, vars[k], v)
		}
	}
}

func TestLoadChecksWhatEverythingReliesOn(t *testing.T) {
	cfg := config.KTRDR()
	dir := t.TempDir()
	good := EnvVars(cfg, "/h", "ktrdr--x", 2, time.Now())
	write := func(mut func(map[string]string)) {
		v := map[string]string{}
		for k, x := range good {
			v[k] = x
		}
		mut(v)
		if err := envfile.Write(filepath.Join(dir, cfg.EnvFile), v); err != nil {
			t.Fatal(err)
		}
	}
	write(func(map[string]string) {})
	in, err := Load(cfg, config.KindSandbox, dir)
	if err != nil || in.ID != "ktrdr--x" || in.Slot != 2 || in.Port("KTRDR_API_PORT") != 8002 {
		t.Fatalf("%+v %v", in, err)
	}
	for name, mut := range map[string]func(map[string]string){
		"missing key":   func(v map[string]string) { delete(v, "KTRDR_DB_PORT") },
		"bad slot":      func(v map[string]string) { v["SLOT_NUMBER"] = "two" },
		"bad port":      func(v map[string]string) { v["KTRDR_API_PORT"] = "0" },
		"project wrong": func(v map[string]string) { v["COMPOSE_PROJECT_NAME"] = "other" },
	} {
		write(mut)
		if _, err := Load(cfg, config.KindSandbox, dir); err == nil || fail.FixOf(err).IsZero() {
			t.Errorf("%s: err = %v, want a refusal with a hint", name, err)
		}
	}
	os.Remove(filepath.Join(dir, cfg.EnvFile))
	if _, err := Load(cfg, config.KindSandbox, dir); err == nil || !strings.Contains(err.Error(), "not an instance directory") {
		t.Errorf("no env file: %v", err)
	}
}

func TestEnvFileWinsOverTheShell(t *testing.T) {
	env := mergeEnv([]string{"PATH=/bin", "KTRDR_API_PORT=1", "COMPOSE_PROJECT_NAME=wrong"},
		map[string]string{"KTRDR_API_PORT": "8001", "COMPOSE_PROJECT_NAME": "ktrdr--x"},
		map[string]string{"KTRDR_ENV": "development"}, map[string]string{"DB_PASSWORD": "s"})
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Fatalf("%s twice in %v", k, env)
		}
		got[k] = v
	}
	if got["KTRDR_API_PORT"] != "8001" || got["COMPOSE_PROJECT_NAME"] != "ktrdr--x" || got["PATH"] != "/bin" || got["KTRDR_ENV"] != "development" || got["DB_PASSWORD"] != "s" {
		t.Fatalf("%v", got)
	}
}
