package core

import (
	"context"
	"slices"
	"testing"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/engine"
)

// On a Swarm with a registry, up tags each built image <registry>/<tag> to push it: that
// tag is the tool's and goes with the instance; the tag the compose file names stays.
func TestDestroyUntagsWhatUpPushedToTheSwarmsRegistry(t *testing.T) {
	w := newWorld(t)
	in := &Instance{ID: "acme--a", Engine: engine.Engine{Endpoint: "ssh://n1", Swarm: &engine.Swarm{Manager: "ssh://m", Node: "n1", Registry: "reg.lan:5000"}}}
	images := []compose.Image{{Ref: "acme-app:dev", ID: "1"}, {Ref: "reg.lan:5000/acme-app:dev", ID: "1"}, {Ref: "reg.lan:5000x/other:1", ID: "2"}}
	w.env.untagPushed(context.Background(), in, images)
	if got := w.docker.called("rmi "); !slices.Equal(got, []string{"rmi reg.lan:5000/acme-app:dev"}) {
		t.Errorf("removed %v, want only the registry's tag", got)
	}
	in.Engine.Swarm.Registry = "" // no registry: nothing was pushed, nothing is untagged
	w.env.untagPushed(context.Background(), in, images)
	if got := w.docker.called("rmi "); len(got) != 1 {
		t.Errorf("removed %v without a registry", got)
	}
}
