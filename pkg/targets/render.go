package targets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/snapshot"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// Every result of pkg/core becomes text here, and JSON where a target takes -json.

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (s *screen) initResult(r core.InitResult) {
	in := r.Instance
	switch {
	case r.Kind == config.KindLocalProd:
		s.printf("Local-prod initialized: %s\n", in.ID)
	case r.NewWorktree:
		s.printf("Created instance: %s\n", in.ID)
	default:
		s.printf("Initialized sandbox: %s\n", in.ID)
	}
	s.printf("  Location:  %s\n", in.Dir)
	if r.Kind == config.KindLocalProd {
		s.printf("  Port slot: %d (standard ports)\n", in.Slot)
	} else {
		s.printf("  Port slot: %d\n", in.Slot)
	}
	if r.Kind == config.KindLocalProd || r.NewWorktree {
		for _, u := range r.Headline {
			s.printf("  %-10s %s\n", u.Label+":", u.URL)
		}
	}
	if inc := r.Included; inc != nil {
		line := fmt.Sprintf("  Included:  %d files, %s (%d reflinked, %d copied)", inc.Files, shared.FormatSize(inc.Bytes), inc.Reflinked, inc.Copied)
		if inc.Links > 0 {
			line += fmt.Sprintf(", %d symlinks", inc.Links)
		}
		if len(inc.Skipped) > 0 {
			line += fmt.Sprintf(", %d already in the worktree", len(inc.Skipped))
		}
		s.printf("%s\n", line)
	}
	up := s.spell(r.Kind, "up", "")
	if r.NewWorktree {
		s.printf("Next: cd %s && %s\n", in.Dir, up)
	} else {
		s.printf("Next: %s\n", up)
	}
}

func (s *screen) started(r core.StartResult, err error) {
	switch {
	case r.Instance == nil:
		return
	case r.Waited && !r.Gate.Passed():
		s.printf("Startability Gate: FAILED\n")
		return
	case err != nil:
		return
	case !r.Waited:
		s.printf("Instance starting (use '%s' to check)\n", s.spell(r.Kind, "status", ""))
		return
	}
	s.printf("Startability Gate: PASSED\n")
	s.printf("Instance ready (%.1fs):\n", r.Elapsed.Seconds())
	for _, u := range r.URLs {
		s.printf("  %-11s %s\n", u.Label, u.URL)
	}
}

func (s *screen) snapshotTaken(kind config.Kind, m snapshot.Manifest) {
	var data int64
	for _, v := range m.Volumes {
		data += v.TarBytes
	}
	s.printf("Snapshot %s of %s: %d volume(s), %s of data stored in %s\n", m.Name, m.Instance, len(m.Volumes), shared.FormatSize(data), shared.FormatSize(m.StoredBytes()))
	s.printf("  %s\n", m.Dir)
	s.printf("Restore it with: %s\n", s.spell(kind, "restore", "-name="+m.Name))
}

func (s *screen) snapshotList(l core.SnapshotList, asJSON bool) error {
	if asJSON {
		return writeJSON(s.out, l)
	}
	if len(l.Snapshots) == 0 {
		s.printf("No snapshots.\n")
		s.printf("Take one with: %s\n", s.spell(config.KindSandbox, "snapshot", ""))
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSNAPSHOT\tCREATED\tAGE\tDATA\tSTORED")
	for _, r := range l.Snapshots {
		inst := r.Instance
		if !r.Registered {
			inst += " (destroyed)"
		}
		created, _ := time.Parse("2006-01-02T15:04:05.000000+00:00", r.CreatedAt)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", inst, r.Name, created.Local().Format("2006-01-02 15:04"), age(time.Since(created)), shared.FormatSize(r.DataBytes), shared.FormatSize(r.StoredBytes))
	}
	return tw.Flush()
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func (s *screen) stopped(r core.StopResult) {
	if r.VolumesRemoved {
		s.printf("Instance stopped; volumes removed\n")
	} else {
		s.printf("Instance stopped (volumes kept; -volumes removes them)\n")
	}
}

func (s *screen) destroyed(r core.DestroyResult) {
	if r.Snapshot != "" {
		s.printf("Snapshot kept: %s (restore it into a new sandbox with: %s)\n", r.Snapshot,
			s.spell(config.KindSandbox, "create", "<name> -seed="+r.ID+":"+r.Snapshot))
	}
	if r.Kind == config.KindLocalProd {
		s.printf("✓ Registry cleared\n")
		s.printf("Local-prod destroyed\n")
		s.printf("Clone directory preserved at: %s\n", r.Path)
		return
	}
	s.printf("✓ Registry updated\n")
	s.printf("Sandbox %s destroyed\n", r.ID)
	if r.WorktreeRemoved {
		s.printf("Note: run 'cd %s' to leave the deleted directory\n", r.ParentRepo)
	}
}

// stateText is a state as a person reads it in status.
func stateText(st core.State, running, total, unhealthy int) string {
	switch st {
	case core.Partial:
		return fmt.Sprintf("partial (%d/%d)", running, total)
	case core.Unhealthy:
		return fmt.Sprintf("unhealthy (%d/%d)", unhealthy, total)
	case core.NotStarted:
		return "not started"
	}
	return string(st)
}

func (s *screen) status(rep core.StatusReport, asJSON bool) error {
	if asJSON {
		return writeJSON(s.out, rep)
	}
	w := s.out
	fmt.Fprintf(w, "Instance: %s (slot %d)\n", rep.InstanceID, rep.Slot)
	fmt.Fprintf(w, "Path: %s\n", rep.Path)
	if rep.Engine != "" && rep.Engine != "local" {
		fmt.Fprintf(w, "Engine: %s (ports forwarded to localhost while it runs)\n", rep.Engine)
	}
	if n := rep.Node; n != nil {
		fmt.Fprintf(w, "Node: %s, %s and %s on its Swarm (%d MiB of %d MiB reserved by its tasks)\n", n.Hostname, n.State, n.Availability, n.Reserved>>20, n.MemBytes>>20)
	}
	if rep.StackFile != "" {
		fmt.Fprintf(w, "Stack file: %s (what its last up deployed)\n", rep.StackFile)
	}
	if rep.Native != "" {
		fmt.Fprintf(w, "Platform: %s (emulated on the engine's %s)\n", rep.Platform, rep.Native)
	} else if rep.Platform != "" {
		fmt.Fprintf(w, "Platform: %s\n", rep.Platform)
	}
	fmt.Fprintf(w, "Status: %s\n", stateText(rep.State, rep.Running, rep.Total, rep.Unhealthy))
	if rep.Error != "" {
		fmt.Fprintf(w, "  (%s)\n", rep.Error)
	}
	if u := rep.Usage; u != nil {
		fmt.Fprintf(w, "Usage: %s memory, %.1f%% CPU, %s in volumes\n", shared.FormatSize(u.MemBytes), u.CPUPercent, shared.FormatSize(u.DiskBytes))
	}
	if rep.Total > 0 {
		fmt.Fprintf(w, "Containers: %d/%d running\n", rep.Running, rep.Total)
		for _, c := range rep.Containers {
			health := ""
			if c.Health != "" {
				health = " (" + c.Health + ")"
			}
			fmt.Fprintf(w, "  %-20s %s%s\n", c.Service, c.State, health)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Services:")
	for _, e := range rep.Services {
		fmt.Fprintf(w, "  %-11s %s\n", e.Label, e.URL)
	}
	if s.cfg.HasWorkers() {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Workers:")
		for _, e := range rep.Workers {
			fmt.Fprintf(w, "  %-11s %s\n", e.Label, e.URL)
		}
	}
	if len(s.cfg.Shared) > 0 {
		fmt.Fprintln(w)
		s.sharedSection(rep.Shared)
	}
	return nil
}

// sharedSection writes the Shared Data section of status.
func (s *screen) sharedSection(rep shared.Report) {
	w := s.out
	fmt.Fprintln(w, "Shared Data:")
	if !rep.Initialized {
		fmt.Fprintf(w, "  Not initialized (%s)\n", rep.Path)
		fmt.Fprintf(w, "  Run: %s   (or -from=PATH to copy existing data)\n", s.spell(config.KindSandbox, "initShared", "-minimal"))
		return
	}
	for _, sd := range rep.Subdirs {
		switch {
		case !sd.Exists:
			fmt.Fprintf(w, "  %s/: not found\n", sd.Name)
		case sd.Error != "":
			fmt.Fprintf(w, "  %s/: %s (%d files; unreadable parts: %s)\n", sd.Name, shared.FormatSize(sd.Bytes), sd.Files, sd.Error)
		default:
			fmt.Fprintf(w, "  %s/: %s (%d files)\n", sd.Name, shared.FormatSize(sd.Bytes), sd.Files)
		}
	}
}

// listText is a state as list shows it: the words of the contract's list column.
func (s *screen) listText(r core.Row) string {
	switch r.State {
	case core.NotStarted:
		return "stopped"
	case core.Broken:
		return "broken (" + r.Detail + ")"
	}
	return stateText(r.State, r.Running, r.Total, r.Unhealthy)
}

func (s *screen) listing(l core.Listing, asJSON bool) error {
	if asJSON {
		return writeJSON(s.out, l)
	}
	for _, w := range l.Warnings {
		fmt.Fprintf(s.err, "Warning: %s\n", w)
	}
	if len(l.Orphans) > 0 {
		fmt.Fprintf(s.err, "Warning: orphaned compose projects (containers with no registry entry): %s\n", strings.Join(l.Orphans, ", "))
		fmt.Fprintf(s.err, "  Remove them with: %s\n", s.spell(config.KindSandbox, "gc", ""))
	}
	if len(l.Instances) == 0 {
		s.printf("No sandbox instances found.\n")
		s.printf("Create one with: %s\n", s.spell(config.KindSandbox, "create", "<name>"))
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	// The ENGINE column appears only when some instance runs on a remote engine.
	engineCol := func(string) string { return "" }
	for _, r := range l.Instances {
		if r.Engine != "" && r.Engine != "local" {
			engineCol = func(name string) string { return name + "\t" }
		}
	}
	if l.Total == nil {
		fmt.Fprintln(tw, "INSTANCE\tSLOT\tSTATUS\tAPI PORT\t"+engineCol("ENGINE")+"PATH")
	} else {
		fmt.Fprintln(tw, "INSTANCE\tSLOT\tSTATUS\tAPI PORT\tMEM\tCPU\tDISK\t"+engineCol("ENGINE")+"PATH")
	}
	for _, r := range l.Instances {
		api := "?"
		if r.APIPort > 0 {
			api = strconv.Itoa(r.APIPort)
		}
		switch {
		case l.Total == nil:
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s%s\n", r.InstanceID, r.Slot, s.listText(r), api, engineCol(r.Engine), r.Path)
		case r.Usage == nil:
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t-\t-\t-\t%s%s\n", r.InstanceID, r.Slot, s.listText(r), api, engineCol(r.Engine), r.Path)
		default:
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s%s\n", r.InstanceID, r.Slot, s.listText(r), api, usageCells(*r.Usage), engineCol(r.Engine), r.Path)
		}
	}
	if l.Total != nil {
		fmt.Fprintf(tw, "TOTAL\t\t%d instance(s)\t\t%s\t\n", len(l.Instances), usageCells(*l.Total))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return s.fleet(l.Nodes)
}

// fleet is list's table of the Swarm nodes that hold instances, one Swarm after another.
func (s *screen) fleet(nodes []core.FleetNode) error {
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	for i, n := range nodes {
		if i == 0 || nodes[i-1].Swarm != n.Swarm {
			fmt.Fprintf(tw, "\nSwarm %s:\nNODE\tROLE\tSTATE\tAVAILABILITY\tMEMORY RESERVED\tFREE\tSANDBOXES\n", n.Swarm)
		}
		held := "-"
		if len(n.Instances) > 0 {
			held = strings.Join(n.Instances, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s of %s\t%s\t%s\n", n.Hostname, n.Role, n.State, n.Availability,
			shared.FormatSize(n.Reserved), shared.FormatSize(n.MemBytes), shared.FormatSize(n.MemFreeBytes), held)
	}
	return tw.Flush()
}

// usageCells are the MEM, CPU and DISK cells of a list row.
func usageCells(u stats.Usage) string {
	return fmt.Sprintf("%s\t%.1f%%\t%s", shared.FormatSize(u.MemBytes), u.CPUPercent, shared.FormatSize(u.DiskBytes))
}

// WatchInterval is how often list -watch refreshes.
var WatchInterval = 2 * time.Second

// watch lists again every WatchInterval until ctx ends (Ctrl-C): redrawn in place on a
// terminal, one table after another otherwise.
func (s *screen) watch(ctx context.Context, e *core.Env, asJSON bool) error {
	for {
		l, err := e.List(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if s.bars && !asJSON {
			fmt.Fprint(s.out, "\033[H\033[2J") // home, clear: redraw in place
		}
		if !asJSON {
			s.printf("%s  (every %s; Ctrl-C to stop)\n", time.Now().Format("15:04:05"), WatchInterval)
		}
		if err := s.listing(l, asJSON); err != nil {
			return err
		}
		if !s.bars && !asJSON {
			s.printf("\n")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(WatchInterval):
		}
	}
}

func (s *screen) doctor(rep core.DoctorReport, asJSON bool) error {
	problems := rep.Problems()
	if asJSON {
		if err := writeJSON(s.out, rep.JSON(s.run.Spell)); err != nil {
			return err
		}
	} else {
		for _, f := range rep.Findings {
			mark := "✓"
			if !f.OK {
				mark = "✗"
			}
			s.printf("%s %s: %s\n", mark, f.Check, f.Detail)
			if !f.Fix.IsZero() {
				s.printf("    fix: %s\n", s.run.Render(f.Fix))
			}
		}
	}
	if problems > 0 {
		return fail.New(fail.CodeError, fail.Say("Each problem above is followed by the command that fixes it"), "doctor found %d problem(s)", problems)
	}
	return nil
}

func (s *screen) gc(rep core.GCReport) {
	verb := map[bool]string{true: "would remove", false: "removing"}[rep.DryRun]
	for _, it := range rep.Items {
		switch it.Action {
		case core.StaleEntry:
			s.printf("%s stale registry entry %s (directory %s is gone)\n", verb, it.Target, it.Path)
		case core.KeptEntry:
			s.printf("keeping stale registry entry %s (directory %s is gone): %s\n", it.Target, it.Path, it.Error)
		case core.LocalProdMissing:
			s.printf("note: local-prod's directory %s is gone; clear it with: %s\n", it.Path, s.spell(config.KindLocalProd, "destroy", "-force"))
		case core.OrphanedProject:
			s.printf("%s containers of orphaned compose project %s\n", verb, it.Target)
			if len(it.Volumes) > 0 {
				vols := strings.Join(it.Volumes, " ")
				s.printf("  kept its volumes (they may hold data): %s\n  remove them with: docker volume rm %s\n", vols, vols)
			}
		case core.KeptWorktree:
			if it.Error != "" {
				s.printf("keeping unregistered worktree %s: %s\n", it.Target, it.Error)
			} else {
				s.printf("keeping unregistered worktree %s: it has uncommitted changes (%s)\n", it.Target, preview(it.Changes))
			}
		case core.OrphanedVolume:
			what := map[bool]string{true: "would remove", false: "orphaned"}[rep.DryRun]
			if it.Done {
				what = "removed"
			}
			s.printf("%s volume %s of %s (%s)\n", what, it.Target, it.Path, shared.FormatSize(it.Bytes))
			if it.Error != "" {
				s.printf("  kept: %s\n", it.Error)
			}
		case core.LeftImage:
			what := map[bool]string{true: "would remove", false: "removed"}[rep.DryRun]
			if it.Error != "" {
				what = "kept"
			}
			s.printf("%s image %s (%s)\n", what, it.Target, shared.FormatSize(it.Bytes))
			if it.Error != "" {
				s.printf("  %s\n", it.Error)
			}
		case core.LooseWorktree:
			s.printf("%s unregistered worktree %s (its branch is kept)\n", verb, it.Target)
			if it.Error != "" {
				s.printf("  kept: %s\n", it.Error)
			}
		}
	}
	if rep.DockerSkipped != "" {
		s.printf("note: skipped compose projects: %s\n", rep.DockerSkipped)
	}
	switch {
	case rep.Removable() == 0:
		s.printf("Nothing to clean up.\n")
	case rep.DryRun:
		s.printf("Dry run: nothing was changed. Run without -dryRun to do it.\n")
	}
}

func preview(paths []string) string {
	if len(paths) > 3 {
		return strings.Join(paths[:3], ", ") + fmt.Sprintf(" and %d more", len(paths)-3)
	}
	return strings.Join(paths, ", ")
}

func (s *screen) sharedResult(r core.SharedResult) {
	from := s.spell(config.KindSandbox, "initShared", "-from=PATH")
	switch r.Outcome {
	case core.SharedMinimal, core.SharedEmpty:
		s.printf("\nShared data initialized (%s):\n", r.Outcome)
		for _, sd := range r.Summary.Subdirs {
			s.printf("  %s/\n", sd.Path)
		}
		if r.Outcome == core.SharedMinimal {
			s.printf("\nNote: no data copied; existing data was kept. Copy data with: %s\n", from)
		} else {
			s.printf("\nPopulate it with:\n  %s\n", s.spell(config.KindSandbox, "initShared", "-from=/path/to/existing/checkout"))
		}
	case core.SharedExisting:
		s.printf("\nShared data already exists:\n")
		s.summary(r.Summary)
		s.printf("\nUse -from=PATH to replace it from a checkout, or -minimal to add any missing directories.\n")
	case core.SharedCopied:
		s.printf("\nShared data initialized:\n")
		s.summary(r.Summary)
		if r.RestartUnknown != "" {
			fmt.Fprintf(s.err, "Warning: could not check running instances (%s); restart any running instance to see the new data\n", r.RestartUnknown)
		}
		if len(r.Restart) > 0 {
			s.printf("\nRestart needed: these running instances still see the old data until recreated:\n")
			for _, st := range r.Restart {
				s.printf("  %s\n", st)
			}
			s.printf("In each: %s && %s (%s and %s for local-prod)\n",
				s.spell(config.KindSandbox, "down", ""), s.spell(config.KindSandbox, "up", ""),
				s.spell(config.KindLocalProd, "down", ""), s.spell(config.KindLocalProd, "up", ""))
		}
	}
}

func (s *screen) summary(rep shared.Report) {
	for _, sd := range rep.Subdirs {
		if sd.Exists {
			s.printf("  %s/ (%s, %d files)\n", sd.Path, shared.FormatSize(sd.Bytes), sd.Files)
		} else {
			s.printf("  %s/ (not found)\n", sd.Path)
		}
	}
}

func (s *screen) synced(r core.SyncResult) {
	s.printf("✓ %s is on %s (%d bind mount(s) satisfied)\n", r.Instance.Dir, r.Engine.Name(), len(r.Binds))
}
