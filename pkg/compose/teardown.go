package compose

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/ktrdr/sandbox/pkg/dockerapi"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// Teardown removes everything of the project: containers of every profile (a profile
// left out would hide its services from down), volumes, networks, and the images the
// project alone built (see BuiltFor). compose's own `--rmi local` is not used: it removes
// the image of every service that has build:, even one whose image: names a tag that
// other instances run, so the next instance would build it again.
func (p Project) Teardown(ctx context.Context, label string, out, errw io.Writer) error {
	all := p
	all.Profiles = []string{"*"}
	if err := all.run(ctx, changeTimeout, nil, out, errw, "down", "--remove-orphans", "--volumes"); err != nil {
		return fmt.Errorf("docker compose down (%s): %w", p.Name, err)
	}
	// Listed and removed by name or id, not `docker image prune`: the daemon runs one prune
	// at a time and refuses a second, so two destroys at once would fail each other.
	listed, err := execx.Output(ctx, execx.Cmd{Name: "docker", Env: p.Env, Timeout: queryTimeout,
		Args: []string{"image", "ls", "--filter", "label=" + label + "=" + p.Name, "--format", imageFormat}})
	if err != nil {
		return fmt.Errorf("list %s's images: %w", p.Name, err)
	}
	var refs []string
	for _, img := range parseImages(listed) {
		switch {
		case strings.HasPrefix(img.Ref, "<none>"):
			refs = append(refs, img.ID)
		case BuiltFor(img, p.Name):
			refs = append(refs, img.Ref) // by name: an id another tag shares would stay tagged
		}
	}
	if len(refs) > 0 {
		// one a container still runs is refused, as prune would skip it; the check that
		// follows a teardown names whatever is left
		_, _ = execx.Output(ctx, execx.Cmd{Name: "docker", Env: p.Env, Timeout: changeTimeout, Args: append([]string{"image", "rm"}, refs...)})
	}
	return nil
}

// BuiltFor reports an image compose built for project under the project's own name
// (<project>-<service>, <project>_<service> before compose v2) or left untagged: the
// project's alone. Any other name was given by the compose file (image:), and the image
// may serve other instances.
func BuiltFor(img Image, project string) bool {
	return strings.HasPrefix(img.Ref, project+"-") || strings.HasPrefix(img.Ref, project+"_") || strings.HasPrefix(img.Ref, "<none>")
}

// imageFormat is what parseImages reads.
const imageFormat = "{{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.Size}}"

// Image is one image on the engine.
type Image struct {
	Ref   string `json:"ref"` // repository:tag, or <none>@<short id> for an untagged one
	ID    string `json:"id"`
	Bytes int64  `json:"bytes"`
}

// Labelled is everything on an engine that carries a compose project's label.
type Labelled struct {
	Containers  []string `json:"containers"`
	Volumes     []string `json:"volumes"`
	Networks    []string `json:"networks"`
	Images      []Image  `json:"images"`
	VolumeBytes int64    `json:"volume_bytes"` // as the engine last measured them
}

// Empty reports nothing labelled.
func (l Labelled) Empty() bool {
	return len(l.Containers)+len(l.Volumes)+len(l.Networks)+len(l.Images) == 0
}

// String names what is there, e.g. "2 containers (a-web-1, a-db-1), 1 volume (a_data)".
func (l Labelled) String() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		if len(names) != 1 {
			what += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(names), what, strings.Join(names, ", ")))
	}
	add("container", l.Containers)
	add("volume", l.Volumes)
	add("network", l.Networks)
	refs := make([]string, len(l.Images))
	for i, img := range l.Images {
		refs[i] = img.Ref
	}
	add("image", refs)
	return strings.Join(parts, ", ")
}

// ImageBytes is the size of the images.
func (l Labelled) ImageBytes() int64 {
	var n int64
	for _, img := range l.Images {
		n += img.Bytes
	}
	return n
}

// Labelled asks the engine, all at once, for the containers, volumes, networks and images
// labelled with the project, and what its volumes hold.
func (e Engine) Labelled(ctx context.Context, label, project string) (Labelled, error) {
	filter := "label=" + label + "=" + project
	queries := [][]string{
		{"ps", "--all", "--filter", filter, "--format", "{{.Names}}"},
		{"volume", "ls", "--filter", filter, "--format", "{{.Name}}"},
		{"network", "ls", "--filter", filter, "--format", "{{.Name}}"},
		{"image", "ls", "--filter", filter, "--format", imageFormat},
		{"system", "df", "-v", "--format", "{{json .Volumes}}"},
	}
	outs := make([]string, len(queries))
	errs := make([]error, len(queries))
	var wg sync.WaitGroup
	for i, q := range queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = execx.Output(ctx, execx.Cmd{Name: "docker", Args: q, Env: e.Env, Timeout: queryTimeout})
		}()
	}
	wg.Wait()
	for i, err := range errs[:4] { // the sizes are a nicety
		if err != nil {
			return Labelled{}, fmt.Errorf("docker %s: %w", strings.Join(queries[i][:2], " "), err)
		}
	}
	l := Labelled{Containers: fields(outs[0]), Volumes: fields(outs[1]), Networks: fields(outs[2]), Images: parseImages(outs[3])}
	if errs[4] == nil {
		if sizes, err := stats.ParseVolumes(outs[4], label); err == nil {
			l.VolumeBytes = sizes[project]
		}
	}
	return l, nil
}

func fields(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// parseImages reads `docker image ls` lines "repo:tag\tid\tsize".
func parseImages(s string) []Image {
	var out []Image
	for _, line := range fields(s) {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			continue
		}
		img := Image{Ref: f[0], ID: f[1]}
		if img.Ref == "<none>:<none>" {
			img.Ref = "<none>@" + strings.TrimPrefix(img.ID, "sha256:")
		}
		img.Bytes, _ = stats.ParseSize(f[2])
		out = append(out, img)
	}
	return out
}

// LabelledImage is an image and the value of the label it was listed by.
type LabelledImage struct {
	Image
	Value string `json:"value"`
}

// Images lists the images that carry label (any value), with that value: compose labels
// what it builds with its project.
func (e Engine) Images(ctx context.Context, label string) ([]LabelledImage, error) {
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Env: e.Env, Timeout: queryTimeout,
		Args: []string{"image", "ls", "--filter", "label=" + label, "--format", imageFormat}})
	if err != nil {
		return nil, fmt.Errorf("docker image ls: %w", err)
	}
	images := parseImages(out)
	if len(images) == 0 {
		return nil, nil
	}
	// image ls has no labels to show: one inspect of them all gives each its value
	args := []string{"image", "inspect", "--format", fmt.Sprintf("{{.Id}}\t{{index .Config.Labels %q}}", label)}
	for _, img := range images {
		args = append(args, img.ID)
	}
	out, err = execx.Output(ctx, execx.Cmd{Name: "docker", Env: e.Env, Timeout: queryTimeout, Args: args})
	if err != nil {
		return nil, fmt.Errorf("docker image inspect: %w", err)
	}
	value := map[string]string{}
	for _, line := range fields(out) {
		if id, v, ok := strings.Cut(line, "\t"); ok {
			value[strings.TrimPrefix(id, "sha256:")] = v
		}
	}
	var res []LabelledImage
	for _, img := range images {
		v := ""
		for id, val := range value {
			if strings.HasPrefix(id, img.ID) {
				v = val
			}
		}
		res = append(res, LabelledImage{Image: img, Value: v})
	}
	return res, nil
}

// RemoveImage removes one image (never one a container uses: docker refuses).
func (e Engine) RemoveImage(ctx context.Context, id string) error {
	_, err := execx.Output(ctx, execx.Cmd{Name: "docker", Env: e.Env, Timeout: changeTimeout, Args: []string{"image", "rm", id}})
	return err
}

// Published is the set of host ports the project's running containers publish: those
// its own port check must not count as taken. One `docker ps`, no compose file to parse.
func (e Engine) Published(ctx context.Context, label, project string) (map[int]bool, error) {
	if api, ok := dockerapi.ForEnv(e.Env); ok { // before compose starts: no command's start-up
		cs, err := api.Containers(ctx, dockerapi.Filters{"label": {label + "=" + project}}, false)
		if err == nil {
			ports := map[int]bool{}
			for _, c := range cs {
				for _, p := range c.Ports {
					if p.PublicPort > 0 {
						ports[p.PublicPort] = true
					}
				}
			}
			return ports, nil
		}
	}
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Env: e.Env, Timeout: queryTimeout,
		Args: []string{"ps", "--filter", "label=" + label + "=" + project, "--format", "{{.Ports}}"}})
	if err != nil {
		return nil, fmt.Errorf("docker ps: %w", err)
	}
	return parsePublished(out), nil
}

// parsePublished reads docker ps's Ports column: "127.0.0.1:8001->8000/tcp, :::8002->80/tcp",
// ranges as "0.0.0.0:5000-5002->5000-5002/tcp"; ports only exposed ("8000/tcp") are not
// published.
func parsePublished(s string) map[int]bool {
	ports := map[int]bool{}
	for _, line := range fields(s) {
		for _, entry := range strings.Split(line, ", ") {
			host, _, ok := strings.Cut(entry, "->")
			if !ok {
				continue
			}
			host = host[strings.LastIndex(host, ":")+1:]
			lo, hi, isRange := strings.Cut(host, "-")
			from, err := strconv.Atoi(lo)
			if err != nil {
				continue
			}
			to := from
			if isRange {
				if to, err = strconv.Atoi(hi); err != nil || to < from || to-from > 1000 {
					continue
				}
			}
			for p := from; p <= to; p++ {
				ports[p] = true
			}
		}
	}
	return ports
}
