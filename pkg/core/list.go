package core

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// Row is one instance in list; the JSON of list -json.
type Row struct {
	InstanceID string      `json:"instance_id"`
	Kind       config.Kind `json:"kind"`
	Slot       int         `json:"slot"`
	State      State       `json:"state"`
	Running    int         `json:"running"`
	Total      int         `json:"total"`
	Unhealthy  int         `json:"unhealthy"`
	APIPort    int         `json:"api_port"` // 0 when the env file cannot be read
	Path       string      `json:"path"`
	Detail     string      `json:"detail,omitempty"` // why the state is broken or unknown
	// Usage is what the instance costs now; nil when Docker could not say.
	Usage *stats.Usage `json:"usage,omitempty"`
}

// Listing is what list reports: local-prod first, then sandboxes in natural id order.
type Listing struct {
	Instances []Row    `json:"instances"`
	Orphans   []string `json:"orphaned_projects"`
	Warnings  []string `json:"warnings"`
	// Total is the sum of every listed instance's usage; nil when Docker could not say.
	Total *stats.Usage `json:"total,omitempty"`
}

// List builds the listing from the registry, one docker call for every project's
// container states, and each instance's env file for its API port.
func (e *Env) List(ctx context.Context) (Listing, error) {
	reg, err := e.loadRegistry()
	if err != nil {
		return Listing{}, err
	}
	usageDone := e.usageAsync(ctx)
	states, dockerErr := e.Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
	l := Listing{Instances: []Row{}, Orphans: []string{}, Warnings: []string{}}
	if dockerErr != nil {
		l.Warnings = append(l.Warnings, "container states unknown: "+dockerErr.Error())
	}
	usage := <-usageDone
	if usage.err != nil && dockerErr == nil {
		l.Warnings = append(l.Warnings, "memory, CPU and disk unknown: "+usage.err.Error())
	}
	if usage.err == nil {
		l.Total = &stats.Usage{}
	}
	for _, in := range e.allEntries(reg) {
		kind := config.KindSandbox
		if in == reg.LocalProd {
			kind = config.KindLocalProd
		}
		r := Row{InstanceID: in.InstanceID, Kind: kind, Slot: in.Slot, Path: in.Path}
		vars, err := envfile.Read(filepath.Join(in.Path, e.Config.EnvFile))
		if err == nil {
			r.APIPort, _ = strconv.Atoi(vars[e.Config.APIPort])
		}
		c := states[in.InstanceID]
		r.Running, r.Total, r.Unhealthy = c.Running, c.Total, c.Unhealthy
		switch {
		case !exists(in.Path):
			r.State = Missing
		case err != nil:
			r.State, r.Detail = Broken, "no "+e.Config.EnvFile
		case dockerErr != nil:
			r.State, r.Detail = Unknown, dockerErr.Error()
		default:
			r.State = StateOf(c)
		}
		if usage.err == nil {
			u := usage.byProject[in.InstanceID]
			r.Usage = &u
			l.Total.Containers += u.Containers
			l.Total.MemBytes += u.MemBytes
			l.Total.CPUPercent += u.CPUPercent
			l.Total.DiskBytes += u.DiskBytes
		}
		l.Instances = append(l.Instances, r)
	}
	for _, c := range reg.ContestedSlots() {
		l.Warnings = append(l.Warnings, fmt.Sprintf("slot %d is claimed by %s (edit %s so each slot has one owner)", c.Slot, strings.Join(c.IDs, " and "), e.RegistryStore().Path))
	}
	l.Orphans = append(l.Orphans, e.orphans(reg, states)...)
	return l, nil
}

// allEntries is local-prod (if registered) followed by every sandbox in natural order.
func (e *Env) allEntries(reg *registry.File) []*registry.Instance {
	var all []*registry.Instance
	if reg.LocalProd != nil {
		all = append(all, reg.LocalProd)
	}
	return append(all, reg.Sorted()...)
}

// orphans are the compose projects named like this tool's instances that no entry owns.
func (e *Env) orphans(reg *registry.File, states map[string]compose.Counts) []string {
	var out []string
	for _, p := range compose.Projects(states) {
		if e.isOurs(p) && !registered(reg, p) {
			out = append(out, p)
		}
	}
	return out
}

// isOurs reports whether a compose project name is one this tool would create.
func (e *Env) isOurs(project string) bool {
	return strings.HasPrefix(project, e.Config.IDPrefix) || project == e.Config.LocalProd.InstanceID
}

func registered(reg *registry.File, id string) bool {
	if _, ok := reg.Instances[id]; ok {
		return true
	}
	return reg.LocalProd != nil && reg.LocalProd.InstanceID == id
}

type usageReply struct {
	byProject map[string]stats.Usage
	err       error
}

// usageAsync measures every project's cost while the caller asks Docker for the rest:
// docker stats takes a second or two, and nothing else needs to wait for it.
func (e *Env) usageAsync(ctx context.Context) <-chan usageReply {
	done := make(chan usageReply, 1)
	go func() {
		u, err := e.Docker.Usage(ctx, e.Config.ComposeProjectLabel)
		done <- usageReply{u, err}
	}()
	return done
}
