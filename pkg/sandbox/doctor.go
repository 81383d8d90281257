package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/instance"
	"github.com/ktrdr/sandbox/pkg/ports"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// Finding is one doctor check.
type Finding struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Diagnose runs every check and returns the findings in a fixed order.
func (s Sandboxes) Diagnose(ctx context.Context) []Finding {
	h := s.Host
	var out []Finding
	add := func(f Finding) { out = append(out, f) }

	engine, composeV, err := compose.Engine{Env: h.Env}.Versions(ctx)
	dockerOK := err == nil
	switch {
	case err == nil:
		add(Finding{Check: "docker", OK: true, Detail: "engine " + engine + ", compose " + composeV})
	default:
		add(Finding{Check: "docker", Detail: err.Error(), Fix: "see docs/NEW_MACHINE_SETUP.md"})
	}
	if v, err := execx.Output(ctx, execx.Cmd{Name: "git", Args: []string{"version"}, Env: h.Env, Timeout: 10 * time.Second}); err == nil {
		add(Finding{Check: "git", OK: true, Detail: strings.TrimSpace(v)})
	} else {
		add(Finding{Check: "git", Detail: err.Error(), Fix: "install git"})
	}
	switch _, err := execx.Output(ctx, execx.Cmd{Name: "op", Args: []string{"whoami"}, Env: h.Env, Timeout: 10 * time.Second}); {
	case err == nil:
		add(Finding{Check: "1password", OK: true, Detail: "op installed and signed in"})
	case strings.Contains(err.Error(), execx.ErrNotFound.Error()):
		add(Finding{Check: "1password", OK: true, Detail: "op not installed: sandboxes start with default secrets; local-prod needs -noSecrets",
			Fix: "install the 1Password CLI to use secrets"})
	default:
		add(Finding{Check: "1password", OK: true, Detail: "op installed but not signed in", Fix: "eval $(op signin)"})
	}
	add(s.diskFinding())

	reg, err := h.Registry().Load()
	if err != nil {
		add(Finding{Check: "registry", Detail: err.Error(), Fix: "fix or move " + h.Registry().Path})
		return out
	}
	add(Finding{Check: "registry", OK: true, Detail: fmt.Sprintf("%s: %d sandbox(es), local-prod %s", h.Registry().Path, len(reg.Instances), map[bool]string{true: "registered", false: "not registered"}[reg.LocalProd != nil])})

	var states map[string]compose.Counts
	if dockerOK {
		states, _ = compose.Engine{Env: h.Env}.ProjectStates(ctx, h.Config.ComposeProjectLabel)
	}
	out = append(out, s.portFindings(reg, states)...)
	out = append(out, s.consistencyFindings(ctx, reg, states)...)
	return out
}

func (s Sandboxes) diskFinding() Finding {
	root := s.Host.SharedPath()
	probe := root
	for {
		if _, err := os.Stat(probe); err == nil || probe == filepath.Dir(probe) {
			break
		}
		probe = filepath.Dir(probe)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(probe, &st); err != nil {
		return Finding{Check: "disk", Detail: err.Error()}
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	used, _ := shared.Measure(root)
	f := Finding{Check: "disk", OK: free > used.Bytes, Detail: fmt.Sprintf("%s free at %s; shared data uses %s", shared.FormatSize(free), probe, shared.FormatSize(used.Bytes))}
	if !f.OK {
		f.Fix = "free space: initShared -from needs room for a second copy of a changed subdirectory"
	}
	return f
}

func (s Sandboxes) portFindings(reg *registry.File, states map[string]compose.Counts) []Finding {
	h := s.Host
	holders := reg.SlotHolders()
	var out []Finding
	for _, slot := range h.Config.AllSlots() {
		busy := ports.Busy(h.Config.PortsFor(slot), nil)
		name := fmt.Sprintf("slot %d ports", slot)
		if len(busy) == 0 {
			out = append(out, Finding{Check: name, OK: true, Detail: "free" + ownerNote(holders[slot])})
			continue
		}
		running := false
		for _, id := range holders[slot] {
			running = running || states[id].Running > 0
		}
		list := (&ports.ConflictError{Slot: slot, Busy: busy}).Error()
		if running {
			out = append(out, Finding{Check: name, OK: true, Detail: "held by " + strings.Join(holders[slot], ", ") + " (running)"})
			continue
		}
		out = append(out, Finding{Check: name, Detail: list + ": held by a process that is not an instance of this tool" + ownerNote(holders[slot]),
			Fix: "find it with: ss -ltnp | grep <port>; stop it, or use another slot"})
	}
	return out
}

func ownerNote(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return " (slot of " + strings.Join(ids, ", ") + ")"
}

func (s Sandboxes) consistencyFindings(ctx context.Context, reg *registry.File, states map[string]compose.Counts) []Finding {
	var out []Finding
	for _, c := range reg.ContestedSlots() {
		out = append(out, Finding{Check: "registry slots", Detail: fmt.Sprintf("slot %d is claimed by %s", c.Slot, strings.Join(c.IDs, " and ")),
			Fix: "destroy all but one of them (sandbox:destroy in its directory)"})
	}
	for _, in := range reg.Sorted() {
		out = append(out, s.entryFinding(in, "sandbox:gc"))
	}
	if reg.LocalProd != nil {
		out = append(out, s.entryFinding(reg.LocalProd, "localProd:destroy -force"))
	}
	for _, p := range compose.Projects(states) {
		if s.isOurs(p) && !registered(reg, p) {
			out = append(out, Finding{Check: "compose project " + p, Detail: "has containers but no registry entry",
				Fix: "go tool mage sandbox:gc"})
		}
	}
	for _, wt := range s.unregisteredWorktrees(ctx, reg) {
		out = append(out, Finding{Check: "worktree " + wt, Detail: "named like a sandbox but not registered",
			Fix: "go tool mage sandbox:gc (removes it only if it has no uncommitted changes), or cd there and run sandbox:init"})
	}
	return out
}

func (s Sandboxes) entryFinding(in *registry.Instance, fix string) Finding {
	h := s.Host
	name := "instance " + in.InstanceID
	if !exists(in.Path) {
		return Finding{Check: name, Detail: "directory " + in.Path + " is gone", Fix: "go tool mage " + fix}
	}
	loaded, err := instance.Load(h.Config, in.Path)
	if err != nil {
		fix := fail.Hint(err)
		if errors.Is(err, instance.ErrNotInstance) && fix != "" {
			fix = "cd " + in.Path + " && go tool mage sandbox:destroy (an interrupted create)"
		}
		return Finding{Check: name, Detail: err.Error(), Fix: fix}
	}
	if loaded.ID != in.InstanceID || loaded.Slot != in.Slot {
		return Finding{Check: name, Detail: fmt.Sprintf("%s says %s on slot %d, registry says %s on slot %d", h.Config.EnvFile, loaded.ID, loaded.Slot, in.InstanceID, in.Slot),
			Fix: "destroy it and create it again"}
	}
	return Finding{Check: name, OK: true, Detail: fmt.Sprintf("slot %d at %s", in.Slot, in.Path)}
}

// Doctor prints the findings and fails when any check did.
func (s Sandboxes) Doctor(ctx context.Context, asJSON bool) error {
	findings := s.Diagnose(ctx)
	problems := 0
	for _, f := range findings {
		if !f.OK {
			problems++
		}
	}
	if asJSON {
		enc := json.NewEncoder(s.Host.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"findings": findings, "problems": problems}); err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			mark := "✓"
			if !f.OK {
				mark = "✗"
			}
			s.Host.Printf("%s %s: %s\n", mark, f.Check, f.Detail)
			if f.Fix != "" && !f.OK {
				s.Host.Printf("    fix: %s\n", f.Fix)
			}
		}
	}
	if problems > 0 {
		return fail.New(fail.CodeError, "Each problem above is followed by the command that fixes it", "doctor found %d problem(s)", problems)
	}
	return nil
}
