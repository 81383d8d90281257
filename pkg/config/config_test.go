package config

import (
	"strings"
	"testing"
)

func TestDefaultHasNoPortInTwoSlots(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateCatchesAPortInTwoSlots(t *testing.T) {
	c := Default()
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
	checkSlot(t, Default(), 0, want)
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
		checkSlot(t, Default(), n, want)
	}
}

func TestPortOffsetMovesEveryPort(t *testing.T) {
	c := Default()
	c.PortOffset = 20000
	for i, a := range c.PortsFor(3) {
		if base := Default().PortsFor(3)[i].Host; a.Host != base+20000 {
			t.Errorf("%s = %d, want %d", a.Env, a.Host, base+20000)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestReferencesNamePortsOfTheTable(t *testing.T) {
	c := Default()
	c.Gate[0].PortEnv = "KTRDR_NO_SUCH_PORT"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "KTRDR_NO_SUCH_PORT") {
		t.Fatalf("Validate() = %v", err)
	}
	c = Default()
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
