package targets

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/swarm"
)

func TestRunnerSpellsTargetsAsTheyAreRun(t *testing.T) {
	create := fail.Do(fail.Sandbox, "create", "<name>")
	up := fail.Do(fail.LocalProd, "up", "")
	for _, c := range []struct {
		r    Runner
		cmd  fail.Command
		want string
	}{
		{Runner{Command: "go tool mage"}, create, "go tool mage sandbox:create <name>"},
		{Runner{Command: "mage"}, up, "mage localProd:up"},
		{Runner{Command: "go tool mage", Alias: "env"}, up, "go tool mage env:localProd:up"},
	} {
		if got := c.r.Spell(c.cmd); got != c.want {
			t.Errorf("%+v spells %+v as %q, want %q", c.r, c.cmd, got, c.want)
		}
	}
	fix := fail.Run("Destroy unused ones with: %s (stale ones: %s)", fail.Do(fail.Sandbox, "destroy", ""), fail.Do(fail.Sandbox, "gc", ""))
	if got := (Runner{Command: "mage"}).Render(fix); got != "Destroy unused ones with: mage sandbox:destroy (stale ones: mage sandbox:gc)" {
		t.Errorf("Render = %q", got)
	}
}

func TestAsk(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "yes\n": true, "n\n": false, "\n": false, "": false, "whatever\n": false} {
		var out bytes.Buffer
		s := &screen{terminal: true, in: strings.NewReader(in), out: &out}
		got, err := s.ask("Destroy?")
		if err != nil || got != want || !strings.Contains(out.String(), "Destroy? [y/N]") {
			t.Errorf("answer %q: %v %v (%q)", in, got, err, out.String())
		}
	}
	s := &screen{terminal: false, in: strings.NewReader("y\n")}
	if ok, err := s.ask("Destroy?"); ok || err == nil || !strings.Contains(fail.FixOf(err).Text, "-force") {
		t.Errorf("without a terminal: %v %v", ok, err)
	}
}

func acmeScreen(out *bytes.Buffer) *screen {
	cfg := config.New("acme")
	cfg.Ports = []config.Port{{Env: "ACME_WEB_PORT", Label: "Web", Standard: 8080, First: 18081, Stride: 1, URL: "http://localhost:%d"}}
	cfg.APIPort = "ACME_WEB_PORT"
	return &screen{out: out, err: out, run: Runner{Command: "mage"}, cfg: cfg}
}

func TestStatusWithoutWorkersOrSharedDataHasNoSuchSections(t *testing.T) {
	var out bytes.Buffer
	s := acmeScreen(&out)
	rep := core.StatusReport{Kind: config.KindSandbox, InstanceID: "acme--a", Slot: 1, State: core.Partial, Running: 1, Total: 2,
		Services: []core.Endpoint{{Label: "Web", URL: "http://localhost:18081"}}}
	if err := s.status(rep, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"Instance: acme--a (slot 1)", "Status: partial (1/2)", "Web         http://localhost:18081"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"Workers:", "Shared Data:", "ktrdr"} {
		if strings.Contains(strings.ToLower(text), strings.ToLower(unwanted)) {
			t.Errorf("%q in:\n%s", unwanted, text)
		}
	}
}

func TestListJSONCarriesTheStateEnumAndTextTheContractWords(t *testing.T) {
	l := core.Listing{Instances: []core.Row{
		{InstanceID: "acme--a", Kind: config.KindSandbox, Slot: 1, State: core.Partial, Running: 2, Total: 10, APIPort: 18081},
		{InstanceID: "acme--b", Kind: config.KindSandbox, Slot: 2, State: core.NotStarted},
		{InstanceID: "acme--c", Kind: config.KindSandbox, Slot: 3, State: core.Broken, Detail: "no .env.sandbox"},
	}, Orphans: []string{}, Warnings: []string{}}
	var js bytes.Buffer
	if err := acmeScreen(&js).listing(l, true); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Instances []struct {
			State          string
			Running, Total int
		}
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Instances[0].State != "partial" || back.Instances[0].Running != 2 || back.Instances[1].State != "not_started" || back.Instances[2].State != "broken" {
		t.Errorf("json states: %+v", back)
	}
	var text bytes.Buffer
	if err := acmeScreen(&text).listing(l, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"partial (2/10)", "acme--b   2     stopped", "broken (no .env.sandbox)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("missing %q in:\n%s", want, text.String())
		}
	}
	// with no instance on a Swarm, neither the JSON nor the text grows a fleet
	if strings.Contains(js.String(), "swarm_nodes") || strings.Contains(text.String(), "Swarm") {
		t.Errorf("a fleet with no Swarm:\n%s\n%s", js.String(), text.String())
	}
}

// With instances on a Swarm, list's JSON has every node, and its text a table per Swarm.
func TestListShowsTheFleetOfEachSwarm(t *testing.T) {
	n := swarm.Node{Hostname: "n2", Role: "worker", State: "ready", Availability: "drain", MemBytes: 4 << 30, Reserved: 1 << 30, Instances: []string{"acme--a"}}
	l := core.Listing{Instances: []core.Row{{InstanceID: "acme--a", Kind: config.KindSandbox, Slot: 1, State: core.Running, Engine: "n2 (Swarm ssh://m)"}},
		Orphans: []string{}, Warnings: []string{}, Nodes: []core.FleetNode{{Swarm: "ssh://m", Node: n, MemFreeBytes: n.Free()}}}
	var js, text bytes.Buffer
	if err := acmeScreen(&js).listing(l, true); err != nil {
		t.Fatal(err)
	}
	if err := acmeScreen(&text).listing(l, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"swarm": "ssh://m"`, `"hostname": "n2"`, `"availability": "drain"`, `"mem_free_bytes": 3221225472`, `"instances": [`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("list -json lacks %s:\n%s", want, js.String())
		}
	}
	if !strings.Contains(text.String(), "Swarm ssh://m:") || !regexp.MustCompile(`n2 +worker +ready +drain +1\.0 GB of 4\.0 GB +3\.0 GB +acme--a`).MatchString(text.String()) {
		t.Errorf("list's fleet table:\n%s", text.String())
	}
}

func TestDoctorShowsAFixEvenOnAPassingCheckAndSpellsCommands(t *testing.T) {
	var out bytes.Buffer
	rep := core.DoctorReport{Findings: []core.Finding{
		{Check: "1password", OK: true, Detail: "op installed but not signed in", Fix: fail.Say("eval $(op signin)")},
		{Check: "instance acme--a", Detail: "directory /x is gone", Fix: fail.Run("%s", fail.Do(fail.Sandbox, "gc", ""))},
	}}
	err := acmeScreen(&out).doctor(rep, false)
	if err == nil || !strings.Contains(err.Error(), "1 problem") {
		t.Errorf("doctor error = %v", err)
	}
	for _, want := range []string{"✓ 1password: op installed but not signed in\n    fix: eval $(op signin)", "✗ instance acme--a: directory /x is gone\n    fix: mage sandbox:gc"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
