package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/ports"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// Finding is one doctor check. Fix, when set, is shown even on a passing check (an
// advice such as signing in to 1Password).
type Finding struct {
	Check  string
	OK     bool
	Detail string
	Fix    fail.Remedy
}

// DoctorReport is every finding in a fixed order.
type DoctorReport struct {
	Findings []Finding
}

// Problems counts the failed checks.
func (r DoctorReport) Problems() int {
	n := 0
	for _, f := range r.Findings {
		if !f.OK {
			n++
		}
	}
	return n
}

// DoctorJSON is the report as doctor -json (and the MCP server's doctor tool) give it:
// every finding, its fix spelled as the user runs it, and the count of problems.
type DoctorJSON struct {
	Findings []FindingJSON `json:"findings"`
	Problems int           `json:"problems"`
}

// FindingJSON is one finding of DoctorJSON.
type FindingJSON struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	// Commands are the tool's commands the fix names, spelled as a user runs them.
	Commands []string `json:"fix_commands,omitempty"`
}

// JSON is r with each fix spelled by spell.
func (r DoctorReport) JSON(spell func(fail.Command) string) DoctorJSON {
	out := DoctorJSON{Findings: []FindingJSON{}, Problems: r.Problems()}
	for _, f := range r.Findings {
		fj := FindingJSON{Check: f.Check, OK: f.OK, Detail: f.Detail, Fix: f.Fix.Render(spell)}
		for _, c := range f.Fix.Commands {
			fj.Commands = append(fj.Commands, spell(c))
		}
		out.Findings = append(out.Findings, fj)
	}
	return out
}

// ResponsiveBound is how long doctor lets the engine take to inspect one container.
var ResponsiveBound = 10 * time.Second

// Doctor runs every check: the engine and compose (and whether the engine still answers
// more than ps), git, op, disk, every slot's ports, and registry ↔ worktrees ↔ compose
// projects ↔ container health.
func (e *Env) Doctor(ctx context.Context) DoctorReport {
	var out []Finding
	add := func(f Finding) { out = append(out, f) }

	engine, composeV, err := e.Docker.Versions(ctx)
	dockerOK := err == nil
	if dockerOK {
		add(Finding{Check: "docker", OK: true, Detail: "engine " + engine + ", compose " + composeV})
	} else {
		add(Finding{Check: "docker", Detail: err.Error(), Fix: dockerFix(e)})
	}
	if v, err := execx.Output(ctx, execx.Cmd{Name: "git", Args: []string{"version"}, Env: e.Vars, Timeout: 10 * time.Second}); err == nil {
		add(Finding{Check: "git", OK: true, Detail: strings.TrimSpace(v)})
	} else {
		add(Finding{Check: "git", Detail: err.Error(), Fix: fail.Say("install git")})
	}
	if len(e.Config.Secrets) > 0 {
		add(e.opFinding(ctx))
	}
	add(e.diskFinding())

	reg, err := e.RegistryStore().Load()
	if err != nil {
		add(Finding{Check: "registry", Detail: err.Error(), Fix: fail.Say("fix or move " + e.RegistryStore().Path)})
		return DoctorReport{Findings: out}
	}
	add(Finding{Check: "registry", OK: true, Detail: fmt.Sprintf("%s: %d sandbox(es), local-prod %s", e.RegistryStore().Path, len(reg.Instances), map[bool]string{true: "registered", false: "not registered"}[reg.LocalProd != nil])})

	var states map[string]compose.Counts
	if dockerOK {
		states, _ = e.Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
		if f, ok := e.responsiveFinding(ctx, reg, states); ok {
			add(f)
		}
	}
	if dockerOK {
		out = append(out, e.machineFindings(ctx, reg)...)
	}
	out = append(out, e.engineFindings(ctx, reg)...)
	out = append(out, e.swarmFindings(ctx, reg)...)
	out = append(out, e.portFindings(ctx, reg, states)...)
	out = append(out, e.consistencyFindings(ctx, reg, states)...)
	return DoctorReport{Findings: out}
}

func (e *Env) opFinding(ctx context.Context) Finding {
	_, err := execx.Output(ctx, execx.Cmd{Name: "op", Args: []string{"whoami"}, Env: e.Vars, Timeout: 10 * time.Second})
	switch {
	case err == nil:
		return Finding{Check: "1password", OK: true, Detail: "op installed and signed in"}
	case errors.Is(err, execx.ErrNotFound):
		return Finding{Check: "1password", OK: true, Detail: "op not installed: sandboxes start with default secrets; local-prod needs -noSecrets",
			Fix: fail.Say("install the 1Password CLI to use secrets")}
	}
	return Finding{Check: "1password", OK: true, Detail: "op installed but not signed in", Fix: fail.Say("eval $(op signin)")}
}

// responsiveFinding inspects one container of a registered instance within a bound: an
// engine that lists containers but hangs on inspect (and so on stop) is wedged, and
// every up, down and destroy would hang on it.
func (e *Env) responsiveFinding(ctx context.Context, reg *registry.File, states map[string]compose.Counts) (Finding, bool) {
	for _, in := range e.allEntries(reg) {
		if states[in.InstanceID].Total == 0 {
			continue
		}
		cs, err := e.Docker.Containers(ctx, e.Config.ComposeProjectLabel, in.InstanceID)
		if err != nil || len(cs) == 0 {
			continue
		}
		if err := e.Docker.Responsive(ctx, cs[0].Name, ResponsiveBound); err != nil {
			return Finding{Check: "docker engine", Detail: "answers ps but not inspect: " + err.Error(),
				Fix: fail.Say("the engine is wedged: restart it (systemctl restart docker); fewer concurrent health checks keep it from recurring")}, true
		}
		return Finding{Check: "docker engine", OK: true, Detail: "answers inspect within " + ResponsiveBound.String()}, true
	}
	return Finding{}, false
}

func (e *Env) diskFinding() Finding {
	root := e.SharedPath()
	probe := root
	for {
		if _, err := os.Stat(probe); err == nil || probe == filepath.Dir(probe) {
			break
		}
		probe = filepath.Dir(probe)
	}
	free, err := shared.FreeBytes(probe)
	if err != nil {
		return Finding{Check: "disk", Detail: err.Error()}
	}
	used, _ := shared.Measure(root)
	f := Finding{Check: "disk", OK: free > used.Bytes, Detail: fmt.Sprintf("%s free at %s; shared data uses %s", shared.FormatSize(free), probe, shared.FormatSize(used.Bytes))}
	if !f.OK {
		f.Fix = fail.Run("free space: %s needs room for a second copy of a changed subdirectory", fail.Do(fail.Sandbox, "initShared", "-from=PATH"))
	}
	return f
}

func (e *Env) portFindings(ctx context.Context, reg *registry.File, states map[string]compose.Counts) []Finding {
	holders := reg.SlotHolders()
	records, _ := e.records().Load()
	var out []Finding
	for _, slot := range e.Config.AllSlots() {
		busy := ports.Busy(e.Config.PortsFor(slot), nil)
		name := fmt.Sprintf("slot %d ports", slot)
		if len(busy) == 0 {
			out = append(out, Finding{Check: name, OK: true, Detail: "free" + ownerNote(holders[slot])})
			continue
		}
		running := false
		for _, id := range holders[slot] {
			running = running || states[id].Running > 0
		}
		if running {
			out = append(out, Finding{Check: name, OK: true, Detail: "held by " + strings.Join(holders[slot], ", ") + " (running)"})
			continue
		}
		if tunnel := e.forwarding(ctx, records, holders[slot]); tunnel != "" {
			out = append(out, Finding{Check: name, OK: true, Detail: "forwarded here by the tunnel to " + tunnel + ownerNote(holders[slot])})
			continue
		}
		list := (&ports.ConflictError{Slot: slot, Busy: busy}).Error()
		out = append(out, Finding{Check: name, Detail: list + ": held by a process that is not an instance of this tool" + ownerNote(holders[slot]),
			Fix: fail.Say("find it with: ss -ltnp | grep <port>; stop it, or use another slot")})
	}
	return out
}

// forwarding is the engine whose tunnel forwards the ports of a slot held by one of ids
// (an instance on a remote engine, whose tunnel runs): those ports are its, not a
// stranger's. "" when none.
func (e *Env) forwarding(ctx context.Context, records map[string]engine.Engine, ids []string) string {
	for _, id := range ids {
		if eng := records[id]; !eng.Local() {
			if _, alive := e.Tunnel(eng).Alive(ctx); alive {
				return eng.Name()
			}
		}
	}
	return ""
}

func ownerNote(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return " (slot of " + strings.Join(ids, ", ") + ")"
}

func (e *Env) consistencyFindings(ctx context.Context, reg *registry.File, states map[string]compose.Counts) []Finding {
	var out []Finding
	for _, c := range reg.ContestedSlots() {
		out = append(out, Finding{Check: "registry slots", Detail: fmt.Sprintf("slot %d is claimed by %s", c.Slot, strings.Join(c.IDs, " and ")),
			Fix: fail.Run("destroy all but one of them (%s in its directory)", fail.Do(fail.Sandbox, "destroy", ""))})
	}
	for _, in := range reg.Sorted() {
		out = append(out, e.entryFinding(in, config.KindSandbox, states))
	}
	if reg.LocalProd != nil {
		out = append(out, e.entryFinding(reg.LocalProd, config.KindLocalProd, states))
	}
	for _, p := range e.orphans(reg, states) {
		out = append(out, Finding{Check: "compose project " + p, Detail: "has containers but no registry entry",
			Fix: fail.Run("%s", fail.Do(fail.Sandbox, "gc", ""))})
	}
	for _, wt := range e.unregisteredWorktrees(ctx, reg) {
		out = append(out, Finding{Check: "worktree " + wt.path, Detail: "named like a sandbox but not registered",
			Fix: fail.Run("%s (removes it only if it has no uncommitted changes), or cd there and run %s", fail.Do(fail.Sandbox, "gc", ""), fail.Do(fail.Sandbox, "init", ""))})
	}
	return out
}

func (e *Env) entryFinding(in *registry.Instance, kind config.Kind, states map[string]compose.Counts) Finding {
	name := "instance " + in.InstanceID
	stale := fail.Run("%s", fail.Do(fail.Sandbox, "gc", ""))
	if kind == config.KindLocalProd {
		stale = fail.Run("%s", fail.Do(fail.LocalProd, "destroy", "-force"))
	}
	if !exists(in.Path) {
		return Finding{Check: name, Detail: "directory " + in.Path + " is gone", Fix: stale}
	}
	loaded, err := Load(e.Config, kind, in.Path)
	if err != nil {
		fix := fail.FixOf(err)
		if isNotInstance(err) && kind == config.KindSandbox {
			fix = fail.Run("cd "+in.Path+" && %s (an interrupted create)", fail.Do(fail.Sandbox, "destroy", ""))
		}
		return Finding{Check: name, Detail: err.Error(), Fix: fix}
	}
	if loaded.ID != in.InstanceID || loaded.Slot != in.Slot {
		return Finding{Check: name, Detail: fmt.Sprintf("%s says %s on slot %d, registry says %s on slot %d", e.Config.EnvFile, loaded.ID, loaded.Slot, in.InstanceID, in.Slot),
			Fix: fail.Say("destroy it and create it again")}
	}
	if c := states[in.InstanceID]; c.Unhealthy > 0 {
		return Finding{Check: name, Detail: fmt.Sprintf("%d of %d container(s) unhealthy", c.Unhealthy, c.Total),
			Fix: fail.Run("see why in the logs: cd "+in.Path+" && %s", fail.Do(string(kind), "logs", ""))}
	}
	return Finding{Check: name, OK: true, Detail: fmt.Sprintf("slot %d at %s", in.Slot, in.Path)}
}
