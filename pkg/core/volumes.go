package core

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ktrdr/sandbox/pkg/dockerapi"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// Volumes is what snapshots, restores, seeding and gc ask of one engine: its named
// volumes, the containers that use them, and the copies out and in through the snapshot
// helper. Docker.Volumes gives the engine's: the command line and pkg/snapshot in
// production, a fake in the unit tests, so every path of the data code is tested
// without an engine.
type Volumes interface {
	// Of lists the volumes compose made for project; All every volume with a compose
	// project label; Sizes the engine's sizes of its volumes by name.
	Of(ctx context.Context, project string) ([]snapshot.Volume, error)
	All(ctx context.Context) ([]snapshot.LabelledVolume, error)
	Sizes(ctx context.Context) map[string]int64
	// Running lists a project's running containers with the volumes they mount; Paused
	// the ids of its paused ones.
	Running(ctx context.Context, project string) ([]snapshot.Container, error)
	Paused(ctx context.Context, project string) ([]string, error)
	// Pause freezes containers until thaw; Unpause thaws what a killed snapshot left.
	Pause(ctx context.Context, ids []string) (thaw func(), err error)
	Unpause(ctx context.Context, ids []string) error
	// StopUsers stops the running containers that mount any of volumes; Start starts
	// containers again.
	StopUsers(ctx context.Context, volumes []string) ([]string, error)
	Start(ctx context.Context, ids []string) error
	// RemoveHelpers removes helper containers a killed snapshot or restore left on
	// volumes; Remove removes volumes nobody uses.
	RemoveHelpers(ctx context.Context, volumes []string)
	Remove(ctx context.Context, names ...string) error
	// Helper makes sure the engine has the snapshot helper for what its containers run
	// as; Restore needs it. With known (what they ran as when last asked) and that
	// platform's helper on the engine, docker info is not asked. ReadHelper is enough for
	// Take: a helper of any platform, as its container never runs (no docker info, no
	// build when the engine has one).
	Helper(ctx context.Context, known platform.Platform) error
	ReadHelper(ctx context.Context) error
	// HasImage reports whether the engine has an image tag.
	HasImage(ctx context.Context, tag string) bool
	// Take copies vols of instance into a new snapshot name in store, holding the
	// writers still through q; Restore gives project's volumes the snapshot's content,
	// calling beforeSwap once everything is staged and afterSwap once it is swapped in.
	Take(ctx context.Context, store snapshot.Store, instance, name string, vols []snapshot.Volume, now time.Time, prog snapshot.Progress, q snapshot.Quiesce) (snapshot.Manifest, error)
	Restore(ctx context.Context, store snapshot.Store, m snapshot.Manifest, project string, prog snapshot.Progress, beforeSwap, afterSwap func() error) error
}

// Volumes is the engine's volumes through the docker command line, and through its
// socket for a snapshot's calls when docker reaches it through one.
func (c CLI) Volumes() Volumes {
	d := snapshot.Docker{Env: c.Env}
	if api, ok := dockerapi.ForEnv(c.Env); ok {
		d.API = api
	}
	return &cliVolumes{Docker: d, cli: c}
}

// cliVolumes is Volumes on snapshot.Docker; image is the helper once Helper built it,
// for platform. (Helper sets them apart from Docker: the other questions read Docker
// while it runs.)
type cliVolumes struct {
	snapshot.Docker
	cli      CLI
	image    string
	platform platform.Platform
}

func (v *cliVolumes) Of(ctx context.Context, project string) ([]snapshot.Volume, error) {
	return v.Docker.Volumes(ctx, project)
}
func (v *cliVolumes) All(ctx context.Context) ([]snapshot.LabelledVolume, error) {
	return v.AllVolumes(ctx)
}
func (v *cliVolumes) Remove(ctx context.Context, names ...string) error {
	return v.RemoveVolumes(ctx, names...)
}

func (v *cliVolumes) Helper(ctx context.Context, known platform.Platform) error {
	if !known.IsZero() {
		if tag := snapshot.HelperImage(known); v.HasImage(ctx, tag) {
			v.image, v.platform = tag, known
			return nil
		}
	}
	eng, err := v.cli.Engine(ctx)
	if err != nil {
		return fmt.Errorf("what the engine is: %w", err)
	}
	d := v.Docker
	d.Platform = eng.Platform
	v.image, err = d.EnsureHelper(ctx)
	v.platform = eng.Platform
	return err
}

func (v *cliVolumes) ReadHelper(ctx context.Context) error {
	env := v.Env
	if env == nil {
		env = os.Environ()
	}
	// A platform asked for with DOCKER_DEFAULT_PLATFORM is the only one docker create
	// accepts an image of: that platform's helper, built if missing.
	if p, requested, err := platform.Resolve(platform.Platform{}, env); err == nil && requested {
		return v.Helper(ctx, p)
	}
	tag, err := v.AnyHelper(ctx)
	if err != nil || tag == "" {
		return v.Helper(ctx, platform.Platform{})
	}
	v.image = tag
	return nil
}

func (v *cliVolumes) Take(ctx context.Context, store snapshot.Store, instance, name string, vols []snapshot.Volume, now time.Time, prog snapshot.Progress, q snapshot.Quiesce) (snapshot.Manifest, error) {
	return store.Take(ctx, v.Docker, v.image, instance, instance, name, vols, now, prog, q)
}

func (v *cliVolumes) Restore(ctx context.Context, store snapshot.Store, m snapshot.Manifest, project string, prog snapshot.Progress, beforeSwap, afterSwap func() error) error {
	return store.Restore(ctx, v.Docker, v.image, m, project, prog, beforeSwap, afterSwap)
}
