package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// fakeVolumes is an engine's volumes in memory: each volume holds a string of "data";
// Take writes real manifests into the store (so listing, loading and journals are the
// store's own), and Restore copies the data back, calling the swap hooks as the real one
// does. fail names a method that returns an error.
type fakeVolumes struct {
	mu      sync.Mutex
	data    map[string]map[string]string // project → short volume name → content
	running map[string][]string          // project → running container ids
	mounts  map[string][]string          // container id → the volumes it mounts (absent: all of its project's)
	paused  map[string][]string
	stopped []string // containers StopUsers stopped
	started []string // containers Start started
	helpers int      // helper containers removed
	fail    map[string]error
	cancel  func() // called inside Restore, after staging (an interrupt mid-restore)
	calls   []string
}

func newFakeVolumes() *fakeVolumes {
	return &fakeVolumes{data: map[string]map[string]string{}, running: map[string][]string{}, mounts: map[string][]string{}, paused: map[string][]string{}, fail: map[string]error{}}
}

func (v *fakeVolumes) record(call string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, call)
	return v.fail[strings.Fields(call)[0]]
}

func (v *fakeVolumes) Of(_ context.Context, project string) ([]snapshot.Volume, error) {
	if err := v.record("Of " + project); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []snapshot.Volume
	for _, short := range sortedKeys(v.data[project]) {
		out = append(out, snapshot.Volume{Name: project + "_" + short, Short: short})
	}
	return out, nil
}

func (v *fakeVolumes) All(context.Context) ([]snapshot.LabelledVolume, error) {
	if err := v.record("All"); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []snapshot.LabelledVolume
	for project, vols := range v.data {
		for short := range vols {
			out = append(out, snapshot.LabelledVolume{Name: project + "_" + short, Project: project})
		}
	}
	return out, nil
}

func (v *fakeVolumes) Sizes(context.Context) map[string]int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]int64{}
	for project, vols := range v.data {
		for short, content := range vols {
			out[project+"_"+short] = int64(len(content))
		}
	}
	return out
}

func (v *fakeVolumes) Running(_ context.Context, project string) ([]snapshot.Container, error) {
	err := v.record("Running " + project)
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []snapshot.Container
	for _, id := range v.running[project] {
		out = append(out, snapshot.Container{ID: id, Mounts: v.mountsOf(project, id)})
	}
	return out, err
}

// mountsOf is what container id of project mounts (v.mu held).
func (v *fakeVolumes) mountsOf(project, id string) []string {
	mounts, ok := v.mounts[id]
	if !ok {
		for _, short := range sortedKeys(v.data[project]) {
			mounts = append(mounts, project+"_"+short)
		}
	}
	return mounts
}

func (v *fakeVolumes) Paused(_ context.Context, project string) ([]string, error) {
	err := v.record("Paused " + project)
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.paused[project], err
}

func (v *fakeVolumes) Pause(_ context.Context, ids []string) (func(), error) {
	if err := v.record(fmt.Sprintf("Pause %v", ids)); err != nil {
		return func() {}, err
	}
	return func() { _ = v.record(fmt.Sprintf("Thaw %v", ids)) }, nil
}

func (v *fakeVolumes) Unpause(_ context.Context, ids []string) error {
	return v.record(fmt.Sprintf("Unpause %v", ids))
}

// StopUsers stops the running containers of the volumes' projects.
func (v *fakeVolumes) StopUsers(_ context.Context, volumes []string) ([]string, error) {
	if err := v.record(fmt.Sprintf("StopUsers %v", volumes)); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for project, ids := range v.running {
		var still []string
		for _, id := range ids {
			if (snapshot.Container{Mounts: v.mountsOf(project, id)}).Mounting(volumes) {
				out = append(out, id)
			} else {
				still = append(still, id)
			}
		}
		v.stopped = append(v.stopped, out...)
		v.running[project] = still
	}
	return out, nil
}

func (v *fakeVolumes) Start(_ context.Context, ids []string) error {
	if err := v.record(fmt.Sprintf("Start %v", ids)); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.started = append(v.started, ids...)
	return nil
}

func (v *fakeVolumes) RemoveHelpers(context.Context, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.helpers++
}

func (v *fakeVolumes) Remove(_ context.Context, names ...string) error {
	if err := v.record(fmt.Sprintf("Remove %v", names)); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, n := range names {
		for project, vols := range v.data {
			delete(vols, strings.TrimPrefix(n, project+"_"))
		}
	}
	return nil
}

func (v *fakeVolumes) Helper(context.Context, platform.Platform) error { return v.record("Helper") }
func (v *fakeVolumes) ReadHelper(context.Context) error                { return v.record("ReadHelper") }
func (v *fakeVolumes) HasImage(context.Context, string) bool           { return true }

// Take writes the volumes' content as the snapshot's files and the manifest last, as
// the real store does, so everything that reads the store sees a real snapshot.
func (v *fakeVolumes) Take(_ context.Context, store snapshot.Store, instance, name string, vols []snapshot.Volume, now time.Time, _ snapshot.Progress, q snapshot.Quiesce) (snapshot.Manifest, error) {
	err := v.record("Take " + instance + " " + name) // a copy that fails, with the writers paused
	if err := q.Pause(); err != nil {
		return snapshot.Manifest{}, err
	}
	defer q.Thaw()
	if err != nil {
		return snapshot.Manifest{}, err
	}
	if _, err := store.Load(instance, name); err == nil {
		return snapshot.Manifest{}, fmt.Errorf("snapshot %s of %s already exists", name, instance)
	}
	dir := store.Dir(instance, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return snapshot.Manifest{}, err
	}
	m := snapshot.Manifest{Name: name, Instance: instance, Project: instance, CreatedAt: now}
	v.mu.Lock()
	for _, vol := range vols {
		content := v.data[instance][vol.Short]
		file := vol.Short + ".tar.zst"
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
			v.mu.Unlock()
			return snapshot.Manifest{}, err
		}
		m.Volumes = append(m.Volumes, snapshot.VolumeEntry{Volume: snapshot.Volume{Name: vol.Name, Short: vol.Short}, File: file, TarBytes: int64(len(content)), StoredBytes: int64(len(content))})
	}
	v.mu.Unlock()
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, snapshot.ManifestFile), b, 0o600); err != nil {
		return snapshot.Manifest{}, err
	}
	m.Dir = dir
	return m, nil
}

// Restore stages every volume (reads the snapshot's files), then calls beforeSwap, swaps
// the content in, and calls afterSwap: a failure before the swap changes nothing.
func (v *fakeVolumes) Restore(_ context.Context, store snapshot.Store, m snapshot.Manifest, project string, _ snapshot.Progress, beforeSwap, afterSwap func() error) error {
	if err := v.record("Restore " + project + " " + m.Name); err != nil {
		return err
	}
	staged := map[string]string{}
	for _, e := range m.Volumes {
		b, err := os.ReadFile(filepath.Join(m.Dir, e.File))
		if err != nil {
			return err
		}
		staged[e.Short] = string(b)
	}
	if v.cancel != nil {
		v.cancel()
		return errors.New("docker cp: signal: killed")
	}
	if beforeSwap != nil {
		if err := beforeSwap(); err != nil {
			return err
		}
	}
	v.mu.Lock()
	if v.data[project] == nil {
		v.data[project] = map[string]string{}
	}
	for short, content := range staged {
		v.data[project][short] = content
	}
	v.mu.Unlock()
	if afterSwap != nil {
		return afterSwap()
	}
	return nil
}

// content is what the project's volume short holds now.
func (v *fakeVolumes) content(project, short string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.data[project][short]
}

func (v *fakeVolumes) put(project, short, content string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.data[project] == nil {
		v.data[project] = map[string]string{}
	}
	v.data[project][short] = content
}

// Teardown and Labelled of the fake engine: what a project has is its containers (from
// the Docker fake), its volumes (from the volumes fake) and images the test puts there.
func (d *fakeDocker) Teardown(_ context.Context, p compose.Project, _ string, _, _ io.Writer) error {
	d.record("teardown %s", p.Name)
	if d.downErr != nil {
		return d.downErr
	}
	d.mu.Lock()
	delete(d.containers, p.Name)
	delete(d.states, p.Name)
	var kept []compose.Image
	for _, img := range d.images[p.Name] {
		if d.stuck[img.Ref] || !compose.BuiltFor(img, p.Name) {
			kept = append(kept, img)
		}
	}
	d.images[p.Name] = kept
	d.mu.Unlock()
	d.vols.mu.Lock()
	delete(d.vols.data, p.Name)
	d.vols.mu.Unlock()
	return nil
}

func (d *fakeDocker) Labelled(ctx context.Context, _, project string) (compose.Labelled, error) {
	d.mu.Lock()
	var l compose.Labelled
	for _, c := range d.containers[project] {
		l.Containers = append(l.Containers, c.Name)
	}
	l.Images = append(l.Images, d.images[project]...)
	err := d.statesErr
	d.mu.Unlock()
	if err != nil {
		return l, err
	}
	vols, _ := d.vols.Of(ctx, project)
	for _, v := range vols {
		l.Volumes = append(l.Volumes, v.Name)
		l.VolumeBytes += int64(len(d.vols.content(project, v.Short)))
	}
	return l, nil
}

func (d *fakeDocker) Volumes() Volumes { return d.vols }

func (d *fakeDocker) Images(_ context.Context, label string) ([]compose.LabelledImage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []compose.LabelledImage
	for project, imgs := range d.images {
		for _, img := range imgs {
			if label == snapshot.HelperLabel && project == "helper" || label != snapshot.HelperLabel && project != "helper" {
				out = append(out, compose.LabelledImage{Image: img, Value: project})
			}
		}
	}
	return out, nil
}

func (d *fakeDocker) RemoveImage(_ context.Context, id string) error {
	d.record("rmi %s", id)
	d.mu.Lock()
	defer d.mu.Unlock()
	for project, imgs := range d.images {
		var kept []compose.Image
		for _, img := range imgs {
			if img.ID == id && d.stuck[img.Ref] {
				return fmt.Errorf("image is being used by a container")
			}
			if img.ID != id && img.Ref != id { // by id, or one tag by name
				kept = append(kept, img)
			}
		}
		d.images[project] = kept
	}
	return nil
}
