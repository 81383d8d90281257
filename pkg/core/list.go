package core

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
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
	Engine     string      `json:"engine"`             // "local", or the remote engine's name
	Platform   string      `json:"platform,omitempty"` // what its containers run as; "" when the engine did not say
	Detail     string      `json:"detail,omitempty"`   // why the state is broken or unknown
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
	// Nodes are the nodes of every Swarm that holds instances, with those placed on each.
	Nodes []FleetNode `json:"swarm_nodes,omitempty"`
}

// List builds the listing from the registry, one docker call for every project's
// container states, and each instance's env file for its API port.
func (e *Env) List(ctx context.Context) (Listing, error) {
	reg, err := e.loadRegistry()
	if err != nil {
		return Listing{}, err
	}
	engines, err := e.records().Load()
	if err != nil {
		return Listing{}, fail.With(fail.CodeError, fail.Say("Fix the file or move it away (instances in it then count as local)"), err)
	}
	remoteDone := e.remoteStatesAsync(ctx, reg, engines)
	fleetDone := e.fleetAsync(ctx, reg, engines)
	usageDone := e.usageAsync(ctx)
	engineDone := e.engineAsync(ctx)
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
	local := engineReply{states: states, err: dockerErr, down: Unknown, platform: (<-engineDone).Platform.String()}
	if usage.err == nil {
		local.usage = usage.byProject
	}
	remote := <-remoteDone
	for _, in := range e.allEntries(reg) {
		kind := config.KindSandbox
		if in == reg.LocalProd {
			kind = config.KindLocalProd
		}
		eng := engines[in.InstanceID]
		r := Row{InstanceID: in.InstanceID, Kind: kind, Slot: in.Slot, Path: in.Path, Engine: eng.Name()}
		rep := local
		if !eng.Local() {
			rep = remote[eng.Endpoint]
		}
		e.fillRow(&r, rep, &l)
		l.Instances = append(l.Instances, r)
	}
	for _, c := range reg.ContestedSlots() {
		l.Warnings = append(l.Warnings, fmt.Sprintf("slot %d is claimed by %s (edit %s so each slot has one owner)", c.Slot, strings.Join(c.IDs, " and "), e.RegistryStore().Path))
	}
	l.Orphans = append(l.Orphans, e.orphans(reg, states)...)
	fleet := <-fleetDone
	l.Nodes, l.Warnings = fleet.nodes, append(l.Warnings, fleet.warnings...)
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
		if err == nil {
			e.remember(u)
		}
		done <- usageReply{u, err}
	}()
	return done
}

// engineReply is what one remote engine said about its projects.
type engineReply struct {
	states map[string]compose.Counts
	usage  map[string]stats.Usage // nil when the costs could not be measured
	err    error
	down   State // what an instance there is when err is set
	// platform is what its containers run as ("" when docker info did not answer).
	platform string
}

// engineAsync asks what the engine is while the caller asks Docker for the rest; the
// zero Engine (no platform) when it did not say.
func (e *Env) engineAsync(ctx context.Context) <-chan platform.Engine {
	done := make(chan platform.Engine, 1)
	go func() {
		eng, _ := e.Docker.Engine(ctx)
		done <- eng
	}()
	return done
}

// remoteStatesAsync asks every remote engine that holds a registered instance for its
// projects' states and costs, all engines at once, while list asks the local engine.
func (e *Env) remoteStatesAsync(ctx context.Context, reg *registry.File, engines map[string]engine.Engine) <-chan map[string]engineReply {
	done := make(chan map[string]engineReply, 1)
	todo := map[string]engine.Engine{}
	for _, in := range e.allEntries(reg) {
		if eng := engines[in.InstanceID]; !eng.Local() {
			todo[eng.Endpoint] = eng
		}
	}
	go func() {
		var mu sync.Mutex
		var wg sync.WaitGroup
		out := map[string]engineReply{}
		for endpoint, eng := range todo {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep := engineReply{down: Unreachable}
				rep.err = e.on(ctx, eng, false, func(r *Env) error {
					usage, facts := r.usageAsync(ctx), r.engineAsync(ctx)
					states, err := r.Docker.ProjectStates(ctx, e.Config.ComposeProjectLabel)
					rep.states, rep.platform = states, (<-facts).Platform.String()
					if u := <-usage; u.err == nil {
						rep.usage = u.byProject
					}
					return err
				})
				mu.Lock()
				out[endpoint] = rep
				mu.Unlock()
			}()
		}
		wg.Wait()
		done <- out
	}()
	return done
}

// fillRow completes a row from what its engine said.
func (e *Env) fillRow(r *Row, rep engineReply, l *Listing) {
	vars, err := envfile.Read(filepath.Join(r.Path, e.Config.EnvFile))
	if err == nil {
		r.APIPort, _ = strconv.Atoi(vars[e.Config.APIPort])
	}
	c := rep.states[r.InstanceID]
	r.Platform = rep.platform
	r.Running, r.Total, r.Unhealthy = c.Running, c.Total, c.Unhealthy
	switch {
	case !exists(r.Path):
		r.State = Missing
	case err != nil:
		r.State, r.Detail = Broken, "no "+e.Config.EnvFile
	case rep.err != nil:
		r.State, r.Detail = rep.down, rep.err.Error()
	default:
		r.State = StateOf(c)
	}
	if rep.usage != nil {
		u := rep.usage[r.InstanceID]
		r.Usage = &u
		addUsage(l.Total, u)
	}
}

func addUsage(total *stats.Usage, u stats.Usage) {
	if total == nil {
		return
	}
	total.Containers += u.Containers
	total.MemBytes += u.MemBytes
	total.CPUPercent += u.CPUPercent
	total.DiskBytes += u.DiskBytes
}
