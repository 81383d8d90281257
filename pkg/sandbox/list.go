package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// Row is one instance in list.
type Row struct {
	InstanceID string `json:"instance_id"`
	Kind       string `json:"kind"`
	Slot       int    `json:"slot"`
	Status     string `json:"status"`
	APIPort    int    `json:"api_port"`
	Path       string `json:"path"`
}

// Listing is what list reports.
type Listing struct {
	Instances []Row    `json:"instances"`
	Orphans   []string `json:"orphaned_projects"`
	Warnings  []string `json:"warnings"`
}

// Collect builds the listing: the registry, one docker call for every project's
// container states, and each instance's env file for its API port.
func (s Sandboxes) Collect(ctx context.Context) (Listing, error) {
	h := s.Host
	reg, err := h.LoadRegistry()
	if err != nil {
		return Listing{}, err
	}
	states, dockerErr := compose.Engine{Env: h.Env}.ProjectStates(ctx, h.Config.ComposeProjectLabel)
	l := Listing{Instances: []Row{}, Orphans: []string{}, Warnings: []string{}}
	if dockerErr != nil {
		l.Warnings = append(l.Warnings, "container states unknown: "+dockerErr.Error())
	}
	add := func(in *registry.Instance, kind string) {
		r := Row{InstanceID: in.InstanceID, Kind: kind, Slot: in.Slot, Path: in.Path}
		vars, err := envfile.Read(filepath.Join(in.Path, h.Config.EnvFile))
		if err == nil {
			r.APIPort, _ = strconv.Atoi(vars[h.Config.APIPort])
		}
		switch {
		case !exists(in.Path):
			r.Status = "missing"
		case err != nil:
			r.Status = "broken (no " + h.Config.EnvFile + ")"
		case dockerErr != nil:
			r.Status = "unknown"
		default:
			r.Status = states[in.InstanceID].State()
		}
		l.Instances = append(l.Instances, r)
	}
	if reg.LocalProd != nil {
		add(reg.LocalProd, "local-prod")
	}
	for _, in := range reg.Sorted() {
		add(in, "sandbox")
	}
	for _, c := range reg.ContestedSlots() {
		l.Warnings = append(l.Warnings, fmt.Sprintf("slot %d is claimed by %s (edit %s so each slot has one owner)", c.Slot, strings.Join(c.IDs, " and "), h.Registry().Path))
	}
	for _, p := range compose.Projects(states) {
		if s.isOurs(p) && !registered(reg, p) {
			l.Orphans = append(l.Orphans, p)
		}
	}
	return l, nil
}

// isOurs reports whether a compose project name is one this tool would create.
func (s Sandboxes) isOurs(project string) bool {
	return strings.HasPrefix(project, s.Host.Config.IDPrefix) || project == s.Host.Config.LocalProd.InstanceID
}

func registered(reg *registry.File, id string) bool {
	if _, ok := reg.Instances[id]; ok {
		return true
	}
	return reg.LocalProd != nil && reg.LocalProd.InstanceID == id
}

// List prints every instance.
func (s Sandboxes) List(ctx context.Context, asJSON bool) error {
	l, err := s.Collect(ctx)
	if err != nil {
		return err
	}
	h := s.Host
	if asJSON {
		enc := json.NewEncoder(h.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	for _, w := range l.Warnings {
		fmt.Fprintf(h.Err, "Warning: %s\n", w)
	}
	if len(l.Orphans) > 0 {
		fmt.Fprintf(h.Err, "Warning: orphaned compose projects (containers with no registry entry): %s\n", strings.Join(l.Orphans, ", "))
		fmt.Fprintf(h.Err, "  Remove them with: go tool mage sandbox:gc\n")
	}
	if len(l.Instances) == 0 {
		h.Printf("No sandbox instances found.\n")
		h.Printf("Create one with: go tool mage sandbox:create <name>\n")
		return nil
	}
	tw := tabwriter.NewWriter(h.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSLOT\tSTATUS\tAPI PORT\tPATH")
	for _, r := range l.Instances {
		api := "?"
		if r.APIPort > 0 {
			api = strconv.Itoa(r.APIPort)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.InstanceID, r.Slot, r.Status, api, r.Path)
	}
	return tw.Flush()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
