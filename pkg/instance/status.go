package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/shared"
)

// Endpoint is a named address of an instance.
type Endpoint struct {
	Label string `json:"label"`
	Env   string `json:"env"`
	Port  int    `json:"port"`
	URL   string `json:"url"`
}

// URLs are the instance's non-worker endpoints, in table order.
func (h *Host) URLs(in *Instance) []Endpoint { return h.endpoints(in, false) }

// PrintHeadline prints the endpoints of the configuration's headline ports, as create and
// init show them.
func (h *Host) PrintHeadline(in *Instance) {
	for _, env := range h.Config.Headline {
		for _, u := range h.URLs(in) {
			if u.Env == env {
				h.Printf("  %-10s %s\n", u.Label+":", u.URL)
			}
		}
	}
}

// WorkerURLs are the instance's worker endpoints.
func (h *Host) WorkerURLs(in *Instance) []Endpoint { return h.endpoints(in, true) }

func (h *Host) endpoints(in *Instance, workers bool) []Endpoint {
	var out []Endpoint
	for _, a := range in.Assignments(h.Config) {
		if a.Worker != workers {
			continue
		}
		e := Endpoint{Label: a.Label, Env: a.Env, Port: a.Host, URL: fmt.Sprintf("localhost:%d", a.Host)}
		if a.URL != "" {
			e.URL = fmt.Sprintf(a.URL, a.Host)
		}
		out = append(out, e)
	}
	return out
}

// ContainerState is one container as status shows it.
type ContainerState struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	State   string `json:"state"`
	Health  string `json:"health,omitempty"`
}

// StatusReport is everything status prints.
type StatusReport struct {
	Kind       string           `json:"kind"`
	InstanceID string           `json:"instance_id"`
	Slot       int              `json:"slot"`
	Path       string           `json:"path"`
	State      string           `json:"state"`
	Running    int              `json:"running"`
	Total      int              `json:"total"`
	Error      string           `json:"error,omitempty"`
	Containers []ContainerState `json:"containers"`
	Services   []Endpoint       `json:"services"`
	Workers    []Endpoint       `json:"workers"`
	Shared     shared.Report    `json:"shared_data"`
}

// Status gathers the report; a Docker problem becomes State "unknown" with the reason,
// because status is what a user runs to find out what is wrong.
func (h *Host) Status(ctx context.Context, in *Instance, lc config.Lifecycle) StatusReport {
	rep := StatusReport{Kind: string(lc.Kind), InstanceID: in.ID, Slot: in.Slot, Path: in.Dir,
		Services: h.URLs(in), Workers: h.WorkerURLs(in), Containers: []ContainerState{}}
	sharedDone := make(chan shared.Report, 1)
	go func() { sharedDone <- shared.Inspect(h.SharedPath(), h.SharedNames()) }()
	cs, err := compose.Engine{Env: h.Env}.Containers(ctx, h.Config.ComposeProjectLabel, in.ID)
	if err != nil {
		rep.State, rep.Error = "unknown", err.Error()
	} else {
		var counts compose.Counts
		for _, c := range cs {
			counts.Total++
			if c.State == "running" {
				counts.Running++
			}
			rep.Containers = append(rep.Containers, ContainerState{Service: c.Service, Name: c.Name, State: c.State, Health: c.Health})
		}
		sort.Slice(rep.Containers, func(i, j int) bool { return rep.Containers[i].Service < rep.Containers[j].Service })
		rep.State, rep.Running, rep.Total = counts.State(), counts.Running, counts.Total
		if counts.Total == 0 {
			rep.State = "not started"
		}
	}
	rep.Shared = <-sharedDone
	return rep
}

// SharedNames are the shared-data subdirectory names.
func (h *Host) SharedNames() []string {
	names := make([]string, len(h.Config.Shared))
	for i, s := range h.Config.Shared {
		names[i] = s.Name
	}
	return names
}

// PrintStatus writes the report for people, or as JSON.
func PrintStatus(w io.Writer, rep StatusReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "Instance: %s (slot %d)\n", rep.InstanceID, rep.Slot)
	fmt.Fprintf(w, "Path: %s\n", rep.Path)
	fmt.Fprintf(w, "Status: %s\n", rep.State)
	if rep.Error != "" {
		fmt.Fprintf(w, "  (%s)\n", rep.Error)
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
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Workers:")
	for _, e := range rep.Workers {
		fmt.Fprintf(w, "  %-11s %s\n", e.Label, e.URL)
	}
	fmt.Fprintln(w)
	PrintShared(w, rep.Shared)
	return nil
}

// PrintShared writes the Shared Data section.
func PrintShared(w io.Writer, rep shared.Report) {
	fmt.Fprintln(w, "Shared Data:")
	if !rep.Initialized {
		fmt.Fprintf(w, "  Not initialized (%s)\n", rep.Path)
		fmt.Fprintln(w, "  Run: go tool mage sandbox:initShared -minimal   (or -from=PATH to copy existing data)")
		return
	}
	for _, s := range rep.Subdirs {
		switch {
		case !s.Exists:
			fmt.Fprintf(w, "  %s/: not found\n", s.Name)
		case s.Error != "":
			fmt.Fprintf(w, "  %s/: %s (%d files; unreadable parts: %s)\n", s.Name, shared.FormatSize(s.Bytes), s.Files, s.Error)
		default:
			fmt.Fprintf(w, "  %s/: %s (%d files)\n", s.Name, shared.FormatSize(s.Bytes), s.Files)
		}
	}
}
