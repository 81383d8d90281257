package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ktrdr/sandbox/pkg/addrpool"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
)

// Project is one compose project: one instance.
type Project struct {
	Name     string
	Dir      string
	File     string
	Profiles []string
	// Env is the complete environment compose runs with.
	Env []string
}

func (p Project) args(sub ...string) []string {
	args := []string{"compose", "--project-name", p.Name, "--project-directory", p.Dir, "--file", p.File}
	for _, prof := range p.Profiles {
		args = append(args, "--profile", prof)
	}
	return append(args, sub...)
}

// Bounds on docker calls: a query answers in seconds; up may build images.
const (
	queryTimeout  = 30 * time.Second
	upTimeout     = 15 * time.Minute
	changeTimeout = 5 * time.Minute
)

func (p Project) run(ctx context.Context, timeout time.Duration, stdin io.Reader, stdout, stderr io.Writer, sub ...string) error {
	return execx.Run(ctx, execx.Cmd{Name: "docker", Args: p.args(sub...), Dir: p.Dir, Env: p.Env,
		Stdin: stdin, Stdout: stdout, Stderr: stderr, Timeout: timeout})
}

// Up starts the project detached, building images that are missing (or all, with build).
func (p Project) Up(ctx context.Context, build bool, out, errw io.Writer) error {
	sub := []string{"up", "--detach", "--remove-orphans"}
	if build {
		sub = append(sub, "--build")
	}
	if err := p.run(ctx, upTimeout, nil, out, errw, sub...); err != nil {
		return fmt.Errorf("docker compose up (%s): %w", p.Name, err)
	}
	return nil
}

// Build builds the project's images (those with build:) on the engine docker reaches.
func (p Project) Build(ctx context.Context, out, errw io.Writer) error {
	if err := p.run(ctx, upTimeout, nil, out, errw, "build"); err != nil {
		return fmt.Errorf("docker compose build (%s): %w", p.Name, err)
	}
	return nil
}

// Config is the project as compose resolves it (variables, .env, profiles), as JSON.
func (p Project) Config(ctx context.Context) ([]byte, error) {
	var out bytes.Buffer
	if err := p.run(ctx, queryTimeout, nil, &out, nil, "config", "--format", "json"); err != nil {
		return nil, fmt.Errorf("docker compose config (%s): %w", p.Name, err)
	}
	return out.Bytes(), nil
}

// Down stops and removes the project's containers, and its volumes with volumes.
func (p Project) Down(ctx context.Context, volumes bool, out, errw io.Writer) error {
	sub := []string{"down", "--remove-orphans"}
	if volumes {
		sub = append(sub, "--volumes")
	}
	if err := p.run(ctx, changeTimeout, nil, out, errw, sub...); err != nil {
		return fmt.Errorf("docker compose down (%s): %w", p.Name, err)
	}
	return nil
}

// DownByName removes the containers and networks of a project known only by name (its
// compose file may be gone); volumes are kept.
func (p Project) DownByName(ctx context.Context, out, errw io.Writer) error {
	err := execx.Run(ctx, execx.Cmd{Name: "docker", Args: []string{"compose", "--project-name", p.Name, "down", "--remove-orphans"},
		Dir: p.Dir, Env: p.Env, Stdout: out, Stderr: errw, Timeout: changeTimeout})
	if err != nil {
		return fmt.Errorf("docker compose down (%s): %w", p.Name, err)
	}
	return nil
}

// Logs prints the project's logs.
func (p Project) Logs(ctx context.Context, service string, follow bool, tail int, out, errw io.Writer) error {
	sub := []string{"logs", "--tail", fmt.Sprint(tail)}
	if follow {
		sub = append(sub, "--follow")
	}
	if service != "" {
		sub = append(sub, "--", service)
	}
	if err := p.run(ctx, 0, nil, out, errw, sub...); err != nil {
		return fmt.Errorf("docker compose logs (%s): %w", p.Name, err)
	}
	return nil
}

// Exec runs a command in a running service container; tty allocates a terminal (only
// when stdin is one).
func (p Project) Exec(ctx context.Context, service string, cmd []string, tty bool, stdin io.Reader, out, errw io.Writer) error {
	sub := []string{"exec"}
	if !tty {
		sub = append(sub, "-T")
	}
	sub = append(sub, service)
	return p.run(ctx, 0, stdin, out, errw, append(sub, cmd...)...)
}

// Container is one of a project's containers, as `docker ps` lists it.
type Container struct {
	Name    string
	Service string
	State   string
	Health  string
}

// Counts is how many of a project's containers exist, run, and fail their health check.
type Counts struct {
	Running, Total, Unhealthy int
}

// Engine is the Docker engine as seen through the docker command line.
type Engine struct {
	Env []string
}

// Errors that say which part of Docker is missing, each with what to do.
var (
	ErrDockerMissing  = errors.New("docker is not installed (install Docker Engine or Docker Desktop)")
	ErrDaemonDown     = errors.New("the Docker daemon does not answer (start Docker, or check DOCKER_HOST and permissions on the socket)")
	ErrComposeMissing = errors.New("docker compose v2 is missing (install the docker-compose-plugin package, or put the compose binary in ~/.docker/cli-plugins/docker-compose)")
)

// Versions returns the engine and compose versions, or which one is missing.
func (e Engine) Versions(ctx context.Context) (engine, compose string, err error) {
	// The two questions are independent: ask both at once (every command starts with them).
	type answer struct {
		out string
		err error
	}
	composeDone := make(chan answer, 1)
	go func() {
		out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Args: []string{"compose", "version", "--short"}, Env: e.Env})
		composeDone <- answer{out, err}
	}()
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Args: []string{"version", "--format", "{{.Server.Version}}"}, Env: e.Env})
	if errors.Is(err, execx.ErrNotFound) {
		return "", "", ErrDockerMissing
	}
	if err != nil || strings.TrimSpace(out) == "" {
		return "", "", ErrDaemonDown
	}
	engine = strings.TrimSpace(out)
	c := <-composeDone
	cout, err := c.out, c.err
	compose = strings.TrimPrefix(strings.TrimSpace(cout), "v")
	major, _, _ := strings.Cut(compose, ".")
	if n, convErr := strconv.Atoi(major); err != nil || convErr != nil || n < 2 {
		return engine, "", ErrComposeMissing // the 1.x python docker-compose is not a plugin
	}
	return engine, compose, nil
}

// ProjectStates counts containers per compose project label across the engine, in one
// docker call, so listing many instances costs one round trip.
func (e Engine) ProjectStates(ctx context.Context, label string) (map[string]Counts, error) {
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Env: e.Env, Args: []string{"ps", "--all",
		"--filter", "label=" + label, "--format", fmt.Sprintf(`{{.Label %q}}	{{.State}}	{{.Status}}`, label)}})
	if errors.Is(err, execx.ErrNotFound) {
		return nil, ErrDockerMissing
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDaemonDown, err)
	}
	states := map[string]Counts{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 || f[0] == "" {
			continue
		}
		c := states[f[0]]
		c.Total++
		if f[1] == "running" {
			c.Running++
		}
		if len(f) > 2 && healthOf(f[2]) == "unhealthy" {
			c.Unhealthy++
		}
		states[f[0]] = c
	}
	return states, nil
}

// Projects returns the sorted project names in states.
func Projects(states map[string]Counts) []string {
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// VolumesOf lists the volumes labelled as belonging to project.
func (e Engine) VolumesOf(ctx context.Context, project string) ([]string, error) {
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Env: e.Env, Args: []string{"volume", "ls", "--quiet",
		"--filter", "label=com.docker.compose.project=" + project}})
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// Containers lists one project's containers through the docker CLI, which answers in a
// fraction of the time `docker compose ps` takes; status uses it to feel instant.
func (e Engine) Containers(ctx context.Context, label, project string) ([]Container, error) {
	format := `{{.Label "com.docker.compose.service"}}	{{.Names}}	{{.State}}	{{.Status}}`
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Env: e.Env, Args: []string{"ps", "--all",
		"--filter", "label=" + label + "=" + project, "--format", format}})
	if errors.Is(err, execx.ErrNotFound) {
		return nil, ErrDockerMissing
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDaemonDown, err)
	}
	var list []Container
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		list = append(list, Container{Service: f[0], Name: f[1], State: f[2], Health: healthOf(f[3])})
	}
	return list, nil
}

// healthOf reads the health word docker ps puts in a container's status column.
func healthOf(status string) string {
	for _, h := range []string{"unhealthy", "healthy", "starting"} {
		if strings.Contains(status, "("+h+")") || strings.Contains(status, "(health: "+h+")") {
			return h
		}
	}
	return ""
}

// Responsive asks the engine to inspect one container within bound. A daemon can answer
// ps from its cache while inspect and stop hang (seen on Docker 20.10 under many
// health-check execs); doctor uses this to tell.
func (e Engine) Responsive(ctx context.Context, container string, bound time.Duration) error {
	_, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: bound, Env: e.Env, Args: []string{"inspect", "--format", "{{.State.Status}}", container}})
	if errors.Is(err, execx.ErrTimeout) {
		return fmt.Errorf("docker inspect %s did not answer within %s", container, bound)
	}
	return err
}

// Bind is one bind mount of a service: a host path the engine's host must have.
type Bind struct {
	Service string
	Source  string
	Target  string
}

// Binds are the project's bind mounts as compose resolves them (variables expanded,
// relative paths made absolute against the project directory), in service order.
func (p Project) Binds(ctx context.Context) ([]Bind, error) {
	config, err := p.Config(ctx)
	if err != nil {
		return nil, err
	}
	return ParseBinds(config)
}

// ParseBinds reads the bind mounts out of the project's resolved configuration (Config).
func ParseBinds(config []byte) ([]Bind, error) {
	var doc struct {
		Services map[string]struct {
			Volumes []struct {
				Type   string `json:"type"`
				Source string `json:"source"`
				Target string `json:"target"`
			} `json:"volumes"`
		} `json:"services"`
	}
	if err := json.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("docker compose config: %w", err)
	}
	var binds []Bind
	for name, svc := range doc.Services {
		for _, v := range svc.Volumes {
			if v.Type == "bind" {
				binds = append(binds, Bind{Service: name, Source: v.Source, Target: v.Target})
			}
		}
	}
	sort.Slice(binds, func(i, j int) bool {
		if binds[i].Service != binds[j].Service {
			return binds[i].Service < binds[j].Service
		}
		return binds[i].Target < binds[j].Target
	})
	return binds, nil
}

// AddressRoom is how many more networks the engine can make from its local address
// pools, and how many they hold in all: each project needs at least one, and the
// default pools hold 31.
func (e Engine) AddressRoom(ctx context.Context) (free, total int, err error) {
	docker := func(args ...string) (string, error) {
		return execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Env: e.Env, Args: args})
	}
	info, err := docker("info", "--format", "{{json .DefaultAddressPools}}")
	if err != nil {
		return 0, 0, err
	}
	pools, err := addrpool.ParseDefaultPools(info)
	if err != nil {
		return 0, 0, err
	}
	used, err := addrpool.NetworkSubnets(docker)
	if err != nil {
		return 0, 0, err
	}
	free, total = addrpool.Room(pools, used)
	return free, total, nil
}

// pushBound bounds one image's push to a registry.
const pushBound = 5 * time.Minute

// Push makes the registry's ref the image local is and pushes it, unless ref is that
// image already and was pushed (the registry knows its digest). It reports whether it
// pushed.
func (e Engine) Push(ctx context.Context, local, ref string) (bool, error) {
	repo, _, _ := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	repo = ref[:strings.LastIndex(ref, "/")+1] + repo
	out, _ := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Env: e.Env,
		Args: []string{"image", "inspect", "--format", "{{.Id}}{{range .RepoDigests}} {{.}}{{end}}", local, ref}})
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) == 2 {
		was, is := strings.Fields(lines[0]), strings.Fields(lines[1])
		if len(was) > 0 && len(is) > 0 && was[0] == is[0] && strings.Contains(lines[1], " "+repo+"@") {
			return false, nil
		}
	}
	if _, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: queryTimeout, Env: e.Env, Args: []string{"tag", local, ref}}); err != nil {
		return false, err
	}
	_, err := execx.Output(ctx, execx.Cmd{Name: "docker", Timeout: pushBound, Env: e.Env, Args: []string{"push", "--quiet", ref}})
	return err == nil, err
}
