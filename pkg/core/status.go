package core

import (
	"context"
	"os"
	"sort"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/stats"
	"github.com/ktrdr/sandbox/pkg/swarm"
)

// ContainerState is one container as status reports it.
type ContainerState struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	State   string `json:"state"`            // Docker's word: running, exited, created, ...
	Health  string `json:"health,omitempty"` // healthy, unhealthy, starting, or none
}

// StatusReport is everything status knows about one instance; the JSON of status -json.
type StatusReport struct {
	Kind       config.Kind `json:"kind"`
	InstanceID string      `json:"instance_id"`
	Slot       int         `json:"slot"`
	Path       string      `json:"path"`
	Engine     string      `json:"engine"` // "local", or the remote engine's name
	// Platform is what its containers run as ("linux/arm64"), and Native the engine's own
	// when they differ (emulation); both "" when the engine did not say.
	Platform   string           `json:"platform,omitempty"`
	Native     string           `json:"native_platform,omitempty"`
	State      State            `json:"state"`
	Running    int              `json:"running"`
	Total      int              `json:"total"`
	Unhealthy  int              `json:"unhealthy"`
	Error      string           `json:"error,omitempty"` // why State is unknown
	Containers []ContainerState `json:"containers"`
	Services   []Endpoint       `json:"services"`
	Workers    []Endpoint       `json:"workers"`
	Shared     shared.Report    `json:"shared_data"`
	// Usage is what the instance costs now; nil when Docker could not say.
	Usage *stats.Usage `json:"usage,omitempty"`
	// Node is the Swarm node a sandbox on a Swarm runs on, as its manager sees it
	// (state, availability, memory); nil otherwise or when the manager did not answer.
	Node *swarm.Node `json:"swarm_node,omitempty"`
	// StackFile is the stack file the last up of a sandbox on a Swarm deployed (kept
	// under the tool's state directory); "" otherwise.
	StackFile string `json:"stack_file,omitempty"`
}

// Status reports on the instance of kind. A Docker problem becomes State Unknown with
// the reason, because status is what a user runs to find out what is wrong.
func (e *Env) Status(ctx context.Context, kind config.Kind) (StatusReport, error) {
	in, err := e.Current(kind)
	if err != nil {
		return StatusReport{}, err
	}
	rep := StatusReport{Kind: kind, InstanceID: in.ID, Slot: in.Slot, Path: in.Dir,
		Services: in.Endpoints(e.Config, false), Workers: in.Endpoints(e.Config, true), Containers: []ContainerState{}, Engine: in.Engine.Name()}
	node := e.swarmNodeAsync(ctx, in)
	err = e.on(ctx, in.Engine, false, func(r *Env) error { r.statusHere(ctx, in, &rep); return nil })
	if err != nil {
		rep.State, rep.Error = Unreachable, err.Error()
		rep.Shared = shared.Inspect(e.SharedPath(), e.sharedNames())
	}
	rep.Node = <-node
	if in.Engine.Swarm != nil {
		if _, err := os.Stat(e.stackFile(in.ID)); err == nil {
			rep.StackFile = e.stackFile(in.ID)
		}
	}
	return rep, nil
}

// statusHere fills rep on an Env bound to the instance's engine: containers, the
// platform, the shared data and the cost, asked at once.
func (e *Env) statusHere(ctx context.Context, in *Instance, rep *StatusReport) {
	sharedDone := make(chan shared.Report, 1)
	go func() { sharedDone <- shared.Inspect(e.SharedPath(), e.sharedNames()) }()
	usageDone := e.usageAsync(ctx)
	engineDone := e.engineAsync(ctx)
	cs, err := e.Docker.Containers(ctx, e.Config.ComposeProjectLabel, in.ID)
	if err != nil {
		rep.State, rep.Error = Unknown, err.Error()
	} else {
		var counts compose.Counts
		for _, c := range cs {
			counts.Total++
			if c.State == "running" {
				counts.Running++
			}
			if c.Health == "unhealthy" {
				counts.Unhealthy++
			}
			rep.Containers = append(rep.Containers, ContainerState{Service: c.Service, Name: c.Name, State: c.State, Health: c.Health})
		}
		sort.Slice(rep.Containers, func(i, j int) bool { return rep.Containers[i].Service < rep.Containers[j].Service })
		rep.State, rep.Running, rep.Total, rep.Unhealthy = StateOf(counts), counts.Running, counts.Total, counts.Unhealthy
	}
	if eng := <-engineDone; !eng.Platform.IsZero() {
		rep.Platform = eng.Platform.String()
		if eng.Emulated() {
			rep.Native = eng.Native.String()
		}
	}
	rep.Shared = <-sharedDone
	if u := <-usageDone; u.err == nil {
		mine := u.byProject[in.ID]
		rep.Usage = &mine
	}
}

// sharedNames are the shared-data subdirectory names.
func (e *Env) sharedNames() []string {
	names := make([]string, len(e.Config.Shared))
	for i, s := range e.Config.Shared {
		names[i] = s.Name
	}
	return names
}
