package config

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultHasNoPortInTwoSlots(t *testing.T) {
	if err := KTRDR().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateCatchesAPortInTwoSlots(t *testing.T) {
	c := KTRDR()
	c.Ports[0].Stride = 0 // every sandbox slot now gets the same API port
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "KTRDR_API_PORT") {
		t.Fatalf("Validate() = %v, want a collision on KTRDR_API_PORT", err)
	}
}

func TestSlotZeroGivesTheStandardPorts(t *testing.T) {
	want := map[string]int{
		"KTRDR_API_PORT": 8000, "KTRDR_DB_PORT": 5432, "KTRDR_GRAFANA_PORT": 3000,
		"KTRDR_JAEGER_UI_PORT": 16686, "KTRDR_JAEGER_OTLP_GRPC_PORT": 4317, "KTRDR_JAEGER_OTLP_HTTP_PORT": 4318,
		"KTRDR_PROMETHEUS_PORT": 9090, "KTRDR_WORKER_PORT_1": 5003, "KTRDR_WORKER_PORT_4": 5006,
	}
	checkSlot(t, KTRDR(), 0, want)
}

func TestSandboxSlotsFollowTheSpecFormulas(t *testing.T) {
	for _, n := range []int{1, 2, 10} {
		want := map[string]int{
			"KTRDR_API_PORT": 8000 + n, "KTRDR_DB_PORT": 5432 + n, "KTRDR_GRAFANA_PORT": 3000 + n,
			"KTRDR_JAEGER_UI_PORT": 16686 + n, "KTRDR_JAEGER_OTLP_GRPC_PORT": 4317 + 10*n,
			"KTRDR_JAEGER_OTLP_HTTP_PORT": 4318 + 10*n, "KTRDR_PROMETHEUS_PORT": 9090 + n,
			"KTRDR_WORKER_PORT_1": 5011 + 10*(n-1), "KTRDR_WORKER_PORT_2": 5012 + 10*(n-1),
			"KTRDR_WORKER_PORT_3": 5013 + 10*(n-1), "KTRDR_WORKER_PORT_4": 5014 + 10*(n-1),
		}
		checkSlot(t, KTRDR(), n, want)
	}
}

func TestPortOffsetMovesEveryPort(t *testing.T) {
	c := KTRDR()
	c.PortOffset = 20000
	for i, a := range c.PortsFor(3) {
		if base := KTRDR().PortsFor(3)[i].Host; a.Host != base+20000 {
			t.Errorf("%s = %d, want %d", a.Env, a.Host, base+20000)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestReferencesNamePortsOfTheTable(t *testing.T) {
	c := KTRDR()
	c.Gate[0].PortEnv = "KTRDR_NO_SUCH_PORT"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "KTRDR_NO_SUCH_PORT") {
		t.Fatalf("Validate() = %v", err)
	}
	c = KTRDR()
	c.Headline = append(c.Headline, "NOPE")
	if err := c.Validate(); err == nil {
		t.Fatal("a headline port outside the table passed")
	}
}

func checkSlot(t *testing.T, c Config, slot int, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, a := range c.PortsFor(slot) {
		got[a.Env] = a.Host
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("slot %d: %s = %d, want %d", slot, k, got[k], v)
		}
	}
}

func TestNewDerivesEveryNameFromTheProject(t *testing.T) {
	c := New("acme")
	got := map[string]string{
		"IDPrefix": c.IDPrefix, "Home": c.Home, "registry": c.RegistryPath("/h"), "shared": c.SharedPath("/h"),
		"local-prod": c.LocalProd.InstanceID, "sandbox item": c.Sandbox.SecretsItem, "local-prod item": c.LocalProd.SecretsItem,
		"env file": c.EnvFile, "SharedEnv": c.SharedEnv,
	}
	want := map[string]string{
		"IDPrefix": "acme--", "Home": ".acme", "registry": "/h/.acme/sandbox/instances.json", "shared": "/h/.acme/shared",
		"local-prod": "acme-prod", "sandbox item": "acme-sandbox-dev", "local-prod item": "acme-local-prod",
		"env file": ".env.sandbox", "SharedEnv": "ACME_SHARED_DIR",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if len(c.Ports) != 0 || len(c.Gate) != 0 || len(c.Shared) != 0 || len(c.Secrets) != 0 || c.HasWorkers() {
		t.Errorf("New has ports, gate, shared dirs, secrets or workers: %+v", c)
	}
}

func TestKTRDRIsNewPlusItsStack(t *testing.T) {
	k, n := KTRDR(), New("ktrdr")
	if k.IDPrefix != n.IDPrefix || k.Home != n.Home || k.LocalProd.InstanceID != n.LocalProd.InstanceID || k.Sandbox.SecretsItem != n.Sandbox.SecretsItem {
		t.Fatalf("KTRDR's names differ from New(\"ktrdr\")")
	}
	if !k.HasWorkers() || k.DefaultService != "backend" {
		t.Fatalf("KTRDR lost its workers or default service")
	}
}

func TestValidateNamesTheMissingField(t *testing.T) {
	withAPI := func(c Config) Config {
		c.Ports = []Port{{Env: "A_PORT", Standard: 8080, First: 18081, Stride: 1}}
		c.APIPort = "A_PORT"
		return c
	}
	if err := withAPI(New("acme")).Validate(); err != nil {
		t.Fatalf("a table with one API port: %v", err)
	}
	cases := map[string]func(*Config){
		"Project":       func(c *Config) { c.Project = "" },
		"IDPrefix":      func(c *Config) { c.IDPrefix = "" },
		"Home":          func(c *Config) { c.Home = "" },
		"RegistryFile":  func(c *Config) { c.RegistryFile = "" },
		"EnvFile":       func(c *Config) { c.EnvFile = "" },
		"ComposeFile":   func(c *Config) { c.ComposeFile = "" },
		"APIPort":       func(c *Config) { c.APIPort = "" },
		"Ports":         func(c *Config) { c.Ports = nil },
		"Home=\"/abs\"": func(c *Config) { c.Home = "/abs" },
		"Home=\".\"":    func(c *Config) { c.Home = "." },
	}
	for field, breakIt := range cases {
		c := withAPI(New("acme"))
		breakIt(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("without %s: Validate() = %v, want it named", field, err)
		}
	}
	if err := New("acme").Validate(); !errors.Is(err, ErrIncomplete) {
		t.Errorf("New alone: Validate() = %v, want ErrIncomplete (no ports yet)", err)
	}
}
