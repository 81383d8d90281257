package core

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/registry"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/swarm"
)

// minFreeNetworks: with fewer networks left than this, the next stacks' up fails for
// want of an address pool, however much memory is free.
const minFreeNetworks = 3

// networksFinding says how many more networks an engine (or a Swarm, for its overlay
// networks) can make: every stack makes at least one.
func networksFinding(check string, free, total int, err error) Finding {
	f := Finding{Check: check, OK: err == nil && free >= minFreeNetworks}
	switch {
	case err != nil:
		f.Detail = "cannot be counted: " + err.Error()
		f.Fix = fail.Say("check that docker network ls works there")
	default:
		f.Detail = fmt.Sprintf("room for %d more networks of %d (each stack makes at least one)", free, total)
		if !f.OK {
			f.Fix = fail.Say("remove networks nothing uses (docker network prune), or give the engine larger pools: default-address-pools in its daemon.json (docs/NEW_MACHINE_SETUP.md)")
		}
	}
	return f
}

// placedBySwarm groups the registered instances on a Swarm by manager, then by node
// ("" for those not placed yet), as engines.json records them.
func (e *Env) placedBySwarm(reg *registry.File, records map[string]engine.Engine) (managers []string, placed map[string]map[string][]string) {
	placed = map[string]map[string][]string{}
	for _, in := range e.allEntries(reg) {
		eng := records[in.InstanceID]
		if eng.Swarm == nil {
			continue
		}
		if placed[eng.Swarm.Manager] == nil {
			placed[eng.Swarm.Manager] = map[string][]string{}
			managers = append(managers, eng.Swarm.Manager)
		}
		placed[eng.Swarm.Manager][eng.Swarm.Node] = append(placed[eng.Swarm.Manager][eng.Swarm.Node], in.InstanceID)
	}
	sort.Strings(managers)
	return managers, placed
}

// swarmFindings reports each Swarm that holds instances: every node with its state,
// availability, memory reserved and free and the instances placed there (a node that
// holds some and cannot run them is a problem), and how many more overlay networks the
// Swarm can make.
func (e *Env) swarmFindings(ctx context.Context, reg *registry.File) []Finding {
	records, err := e.records().Load()
	if err != nil {
		return nil // engineFindings reports the file
	}
	managers, placed := e.placedBySwarm(reg, records)
	var out []Finding
	for _, m := range managers {
		out = append(out, e.fleetFindings(ctx, m, placed[m])...)
	}
	return out
}

// FleetNode is a node of a Swarm that holds instances, as list shows it: the node as
// its manager sees it, with the instances placed there.
type FleetNode struct {
	Swarm string `json:"swarm"` // its manager
	swarm.Node
	MemFreeBytes int64 `json:"mem_free_bytes"`
}

// fleetAsync asks each Swarm that holds instances for its nodes, beside the rest of list.
func (e *Env) fleetAsync(ctx context.Context, reg *registry.File, records map[string]engine.Engine) <-chan fleetReply {
	done := make(chan fleetReply, 1)
	managers, placed := e.placedBySwarm(reg, records)
	go func() {
		var rep fleetReply
		for _, manager := range managers {
			var nodes []swarm.Node
			err := e.on(ctx, engine.Engine{Endpoint: manager}, false, func(r *Env) error {
				var err error
				nodes, err = swarm.Manager{Env: r.Vars}.Nodes(ctx)
				return err
			})
			if err != nil {
				rep.warnings = append(rep.warnings, fmt.Sprintf("Swarm %s: its nodes are unknown: %v", manager, err))
				continue
			}
			for _, n := range nodes {
				n.Instances = append([]string{}, placed[manager][n.Hostname]...)
				rep.nodes = append(rep.nodes, FleetNode{Swarm: manager, Node: n, MemFreeBytes: n.Free()})
			}
		}
		done <- rep
	}()
	return done
}

type fleetReply struct {
	nodes    []FleetNode
	warnings []string
}

// fleetFindings asks one manager (through a tunnel of its own) for its nodes and pools.
func (e *Env) fleetFindings(ctx context.Context, manager string, placed map[string][]string) []Finding {
	name := "Swarm " + manager
	var nodes []swarm.Node
	var free, total int
	var roomErr error
	err := e.on(ctx, engine.Engine{Endpoint: manager}, false, func(r *Env) error {
		m := swarm.Manager{Env: r.Vars}
		var err error
		if nodes, err = m.Nodes(ctx); err != nil {
			return err
		}
		free, total, roomErr = m.OverlayRoom(ctx)
		return nil
	})
	if err != nil {
		fix := fail.FixOf(err)
		if fix.IsZero() {
			fix = fail.Say("check the Swarm from its manager: docker node ls")
		}
		return []Finding{{Check: name, Detail: err.Error(), Fix: fix}}
	}
	return append([]Finding{networksFinding("overlay networks ("+name+")", free, total, roomErr)}, nodesFindings(name, nodes, placed)...)
}

// nodesFindings is a line for each node (in the manager's order, by name), then for the
// instances not placed yet and for each node that left the Swarm with instances, by name.
func nodesFindings(name string, nodes []swarm.Node, placed map[string][]string) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.Hostname] = true
		out = append(out, nodeFinding(name, n, placed[n.Hostname]))
	}
	for _, host := range slices.Sorted(maps.Keys(placed)) {
		ids := placed[host]
		switch {
		case host == "":
			out = append(out, Finding{Check: "not placed yet (" + name + ")", OK: true, Detail: strings.Join(ids, ", ") + ": the first up places them"})
		case !seen[host]:
			out = append(out, Finding{Check: "node " + host + " (" + name + ")", Detail: "no longer in the Swarm; its instances' data was there: " + strings.Join(ids, ", "),
				Fix: fail.Say("join it again (docker swarm join on it), or destroy those instances")})
		}
	}
	return out
}

// nodeFinding is one node as its manager sees it, with the instances placed there.
func nodeFinding(swarmName string, n swarm.Node, ids []string) Finding {
	usable := n.State == "ready" && n.Availability == "active"
	held := "no sandbox"
	if len(ids) > 0 {
		held = strings.Join(ids, ", ")
	}
	f := Finding{Check: "node " + n.Hostname + " (" + swarmName + ")", OK: usable || len(ids) == 0,
		Detail: fmt.Sprintf("%s, %s, %s; memory %s reserved of %s (%s free); %s", n.Role, n.State, n.Availability,
			shared.FormatSize(n.Reserved), shared.FormatSize(n.MemBytes), shared.FormatSize(n.Free()), held)}
	switch {
	case f.OK:
	case n.State != "ready":
		f.Fix = fail.Say("bring the node back: the data of " + strings.Join(ids, ", ") + " is there")
	default:
		f.Fix = fail.Say("make it active again on the manager (docker node update --availability active " + n.Hostname + "): " + strings.Join(ids, ", ") + " cannot run elsewhere")
	}
	return f
}
