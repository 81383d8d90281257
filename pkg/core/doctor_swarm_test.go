package core

import (
	"slices"
	"testing"

	"github.com/ktrdr/sandbox/pkg/swarm"
)

// Doctor's lines for a Swarm come in one order every time: the nodes as the manager
// lists them, then the instances not placed yet and the nodes gone from the Swarm, by
// name (they came from a map, in a new order on each run).
func TestDoctorSaysASwarmsNodesInOneOrder(t *testing.T) {
	nodes := []swarm.Node{{Hostname: "n1", State: "ready", Availability: "active"}, {Hostname: "n2", State: "ready", Availability: "active"}}
	placed := map[string][]string{"n1": {"acme--a"}, "": {"acme--new"}, "gone-b": {"acme--b"}, "gone-c": {"acme--c"}, "gone-d": {"acme--d"}, "gone-e": {"acme--e"}}
	want := []string{"node n1 (Swarm m)", "node n2 (Swarm m)", "not placed yet (Swarm m)", "node gone-b (Swarm m)", "node gone-c (Swarm m)", "node gone-d (Swarm m)", "node gone-e (Swarm m)"}
	for range 20 {
		var got []string
		for _, f := range nodesFindings("Swarm m", nodes, placed) {
			got = append(got, f.Check)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("doctor's Swarm lines:\n got %q\nwant %q", got, want)
		}
	}
}
