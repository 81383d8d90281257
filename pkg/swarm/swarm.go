// Package swarm places instances on a Docker Swarm and deploys them there, through the
// docker command line pointed at a manager. Placement is Swarm's own: each instance has
// a placeholder service that reserves the memory the instance needs, so the scheduler
// picks a node with room (never a drained one) and keeps counting that memory while the
// instance lives; the instance's services are then constrained to that node. Nothing
// here loops over nodes to choose one.
package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/addrpool"
	"github.com/ktrdr/sandbox/pkg/dockerapi"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/stack"
)

// InstanceLabel marks a placeholder's container with the instance it holds room for.
const InstanceLabel = "sandbox.instance"

// queryBound bounds one docker call to the manager.
const queryBound = 30 * time.Second

// Manager is a Swarm manager, reached by the docker command with Env.
type Manager struct {
	Env []string
	// Poll is how often a wait asks again (default 250 ms).
	Poll time.Duration
}

func (m Manager) docker(ctx context.Context, args ...string) (string, error) {
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Args: args, Env: m.Env, Timeout: queryBound})
	return strings.TrimSpace(out), err
}

// api is a client for the manager's socket when the docker command reaches it through
// one (a tunnel's): a question asked there costs a few milliseconds, where each docker
// command costs tens. Nil otherwise: the command line answers.
func (m Manager) api() *dockerapi.Client {
	api, ok := dockerapi.ForEnv(m.Env)
	if !ok {
		return nil
	}
	return api
}

func (m Manager) poll() time.Duration {
	if m.Poll > 0 {
		return m.Poll
	}
	return 250 * time.Millisecond
}

// Node is one machine of the Swarm and what is reserved on it.
type Node struct {
	ID           string   `json:"id"`
	Hostname     string   `json:"hostname"`
	Addr         string   `json:"addr"`         // where the manager sees it (the address ssh reaches)
	Role         string   `json:"role"`         // manager or worker
	State        string   `json:"state"`        // ready, down, unknown
	Availability string   `json:"availability"` // active, pause, drain
	MemBytes     int64    `json:"mem_bytes"`
	Reserved     int64    `json:"mem_reserved_bytes"` // by the tasks that run there
	Instances    []string `json:"instances"`          // whose placeholders run there
}

// Free is the memory not reserved on the node.
func (n Node) Free() int64 { return n.MemBytes - n.Reserved }

// NodeNamed is the node with that hostname, with what is reserved on it.
func (m Manager) NodeNamed(ctx context.Context, hostname string) (Node, error) {
	nodes, err := m.Nodes(ctx)
	if err != nil {
		return Node{}, err
	}
	for _, n := range nodes {
		if n.Hostname == hostname {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("the Swarm has no node %s", hostname)
}

// node is one node, without what is reserved on it.
func (m Manager) node(ctx context.Context, id string) (Node, error) {
	nodes, err := m.inspectNodes(ctx, []string{id})
	if err != nil || len(nodes) == 0 {
		return Node{}, fmt.Errorf("node %s: %w", id, err)
	}
	return nodes[0], nil
}

// Nodes lists the Swarm's nodes with the memory their running tasks reserve.
func (m Manager) Nodes(ctx context.Context) ([]Node, error) {
	nodes, err := m.allNodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the Swarm's nodes (is %s a manager?): %w", m.Endpoint(), err)
	}
	byID := map[string]int{}
	for i, n := range nodes {
		byID[n.ID] = i
	}
	tasks, err := m.runningTasks(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if i, ok := byID[t.NodeID]; ok {
			nodes[i].Reserved += t.Reserved
			if t.Instance != "" {
				nodes[i].Instances = append(nodes[i].Instances, t.Instance)
			}
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Hostname < nodes[j].Hostname })
	return nodes, nil
}

// allNodes reads every node of the Swarm.
func (m Manager) allNodes(ctx context.Context) ([]Node, error) {
	if api := m.api(); api != nil {
		return m.apiNodes(ctx, api, nil)
	}
	ids, err := m.docker(ctx, "node", "ls", "-q")
	if err != nil {
		return nil, err
	}
	return m.inspectNodes(ctx, strings.Fields(ids))
}

// inspectNodes reads nodes by id.
func (m Manager) inspectNodes(ctx context.Context, ids []string) ([]Node, error) {
	if api := m.api(); api != nil {
		return m.apiNodes(ctx, api, ids)
	}
	out, err := m.docker(ctx, append([]string{"node", "inspect", "--format", "{{json .}}"}, ids...)...)
	if err != nil {
		return nil, err
	}
	var nodes []Node
	for _, line := range strings.Split(out, "\n") {
		var n dockerapi.Node // what node inspect prints is the API's node
		if json.Unmarshal([]byte(line), &n) == nil {
			nodes = append(nodes, nodeOf(n))
		}
	}
	return nodes, nil
}

// apiNodes reads the nodes with ids (every node when none) from the manager's socket.
func (m Manager) apiNodes(ctx context.Context, api *dockerapi.Client, ids []string) ([]Node, error) {
	var f dockerapi.Filters
	if len(ids) > 0 {
		f = dockerapi.Filters{"id": ids}
	}
	found, err := api.Nodes(ctx, f)
	if err != nil {
		return nil, err
	}
	nodes := make([]Node, 0, len(found))
	for _, n := range found {
		nodes = append(nodes, nodeOf(n))
	}
	return nodes, nil
}

func nodeOf(n dockerapi.Node) Node {
	return Node{ID: n.ID, Hostname: n.Description.Hostname, Addr: n.Status.Addr, Role: n.Spec.Role,
		State: n.Status.State, Availability: n.Spec.Availability, MemBytes: n.Description.Resources.MemoryBytes}
}

// Endpoint is where the manager is reached (its DOCKER_HOST).
func (m Manager) Endpoint() string {
	if v, ok := execx.LookupEnv(m.Env, "DOCKER_HOST"); ok && v != "" {
		return v
	}
	return "this engine"
}

// task is a task the Swarm keeps running, where, and what it reserves.
type task struct {
	ID, NodeID, State, Err string
	CreatedAt              time.Time
	Reserved               int64
	Instance               string // a placeholder's instance
}

// runningTasks lists every task whose desired state is running, on every node.
func (m Manager) runningTasks(ctx context.Context) ([]task, error) {
	if api := m.api(); api != nil {
		found, err := api.Tasks(ctx, dockerapi.Filters{"desired-state": {"running"}})
		return tasksOf(found), err
	}
	services, err := m.docker(ctx, "service", "ls", "-q")
	if err != nil || services == "" {
		return nil, err
	}
	ids, err := m.docker(ctx, append([]string{"service", "ps", "-q", "--filter", "desired-state=running"}, strings.Fields(services)...)...)
	if err != nil || ids == "" {
		return nil, err
	}
	return m.inspectTasks(ctx, strings.Fields(ids))
}

func (m Manager) inspectTasks(ctx context.Context, ids []string) ([]task, error) {
	out, err := m.docker(ctx, append([]string{"inspect", "--type", "task", "--format", "{{json .}}"}, ids...)...)
	if err != nil {
		return nil, err
	}
	var found []dockerapi.Task
	for _, line := range strings.Split(out, "\n") {
		var t dockerapi.Task // what inspect prints is the API's task
		if json.Unmarshal([]byte(line), &t) == nil {
			found = append(found, t)
		}
	}
	return tasksOf(found), nil
}

func tasksOf(found []dockerapi.Task) []task {
	tasks := make([]task, 0, len(found))
	for _, t := range found {
		tasks = append(tasks, task{ID: t.ID, NodeID: t.NodeID, CreatedAt: t.CreatedAt, State: t.Status.State, Err: t.Status.Err,
			Reserved: t.Spec.Resources.Reservations.MemoryBytes, Instance: t.Spec.ContainerSpec.Labels[InstanceLabel]})
	}
	return tasks
}

// newest is the most recently created of tasks: what the Swarm is doing now; older
// ones are history.
func newest(tasks []task) task {
	var n task
	for _, t := range tasks {
		if n.ID == "" || t.CreatedAt.After(n.CreatedAt) {
			n = t
		}
	}
	return n
}

// PlaceholderName is the service that holds an instance's room.
func PlaceholderName(instance string) string { return instance + "-placement" }

// ErrNoRoom is wrapped when no node can take the instance.
var ErrNoRoom = errors.New("no node of the Swarm has room for it")

// Place asks the Swarm for a node with mem bytes free for instance: a placeholder service
// (image, run with the argument idle; it must be on every node) reserving mem, which the
// scheduler puts on a node with room, never a drained or paused one; with on, only that
// node may take it (an instance whose volumes are there). The node it landed on is
// returned, and the placeholder kept there; when none has room the placeholder is
// removed and the error, wrapping ErrNoRoom, gives each node's figures. An instance
// already placed keeps its node.
func (m Manager) Place(ctx context.Context, instance string, mem int64, image, on string, bound time.Duration) (Node, error) {
	if n, ok, err := m.Placement(ctx, instance); err != nil || ok {
		return n, err
	}
	name := PlaceholderName(instance)
	args := []string{"service", "create", "--detach", "--no-resolve-image", "--name", name, "--label", InstanceLabel + "=" + instance,
		"--container-label", InstanceLabel + "=" + instance, "--reserve-memory", fmt.Sprint(mem),
		"--restart-condition", "any", "--stop-grace-period", "1s"}
	if on != "" {
		args = append(args, "--constraint", "node.hostname=="+on)
	}
	_, err := m.docker(ctx, append(args, image, "idle")...)
	// A placeholder kept on its node waits there while the node is drained or down:
	// once the node is back it runs again, and it is never removed here.
	kept := err != nil && on != "" && strings.Contains(err.Error(), "already exists")
	if err != nil && !kept {
		return Node{}, fmt.Errorf("create the placeholder %s: %w", name, err)
	}
	giveUp := func(err error) (Node, error) {
		if !kept {
			_ = m.Unplace(context.WithoutCancel(ctx), instance)
		}
		return Node{}, err
	}
	deadline := time.Now().Add(bound)
	for {
		n, ok, pending, err := m.where(ctx, instance)
		switch {
		case err != nil:
			return giveUp(err)
		case ok && on != "":
			return n, nil
		case ok:
			return n, m.pin(ctx, instance, n.Hostname)
		case strings.Contains(pending, "no suitable node") && !kept || time.Now().After(deadline):
			return giveUp(m.noRoom(ctx, mem, pending))
		}
		select {
		case <-ctx.Done():
			return giveUp(ctx.Err())
		case <-time.After(m.poll()):
		}
	}
}

// pin keeps a placeholder on the node the scheduler chose: the instance's volumes are
// there, so draining that node must not move its room elsewhere (the placeholder waits,
// as the instance's services do, until the node is active again).
func (m Manager) pin(ctx context.Context, instance, hostname string) error {
	_, err := m.docker(ctx, "service", "update", "--detach", "--constraint-add", "node.hostname=="+hostname, PlaceholderName(instance))
	if err != nil {
		return fmt.Errorf("keep the placeholder of %s on %s: %w", instance, hostname, err)
	}
	return nil
}

// Placement is the node instance's placeholder runs on (false when it has none running).
func (m Manager) Placement(ctx context.Context, instance string) (Node, bool, error) {
	n, ok, _, err := m.where(ctx, instance)
	return n, ok, err
}

// where finds the placeholder's running task and its node; pending is why the Swarm has
// not placed it yet. A task the node could not start (its image missing there, say) is
// an error naming the node: waiting would not help.
func (m Manager) where(ctx context.Context, instance string) (n Node, ok bool, pending string, err error) {
	t, err := m.newestOf(ctx, m.api(), PlaceholderName(instance))
	if err != nil || t.ID == "" {
		return Node{}, false, "", err
	}
	switch t.State {
	case "running":
		node, err := m.node(ctx, t.NodeID)
		return node, err == nil, "", err
	case "rejected", "failed":
		name := t.NodeID
		if nodes, err := m.allNodes(ctx); err == nil {
			for _, node := range nodes {
				if node.ID == t.NodeID {
					name = node.Hostname
				}
			}
		}
		return Node{}, false, "", fmt.Errorf("the placeholder of %s could not start on %s: %s", instance, name, t.Err)
	}
	return Node{}, false, t.State + ": " + t.Err, nil
}

// noRoom is the refusal with every node's figures.
func (m Manager) noRoom(ctx context.Context, mem int64, why string) error {
	nodes, _ := m.Nodes(context.WithoutCancel(ctx))
	var lines []string
	for _, n := range nodes {
		lines = append(lines, fmt.Sprintf("%s (%s, %s): %s free of %s", n.Hostname, n.State, n.Availability, mib(n.Free()), mib(n.MemBytes)))
	}
	return fmt.Errorf("%w: it reserves %s; %s (%s)", ErrNoRoom, mib(mem), strings.Join(lines, "; "), strings.TrimSpace(why))
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

// Reserve makes the running placeholder of a placed instance reserve mem, on the node it
// is kept on (the instance's volumes are there): unchanged when it already does; refused
// with every node's figures, the old reservation kept, when that node has not mem free
// besides what the placeholder holds now; otherwise updated and waited for.
func (m Manager) Reserve(ctx context.Context, instance string, mem int64, bound time.Duration) (Node, error) {
	name := PlaceholderName(instance)
	t, err := m.newestOf(ctx, m.api(), name)
	if err != nil {
		return Node{}, err
	}
	if t.State != "running" {
		return Node{}, fmt.Errorf("the placeholder %s is not running (%s)", name, t.State)
	}
	nodes, err := m.Nodes(ctx)
	if err != nil {
		return Node{}, err
	}
	var n Node
	for _, node := range nodes {
		if node.ID == t.NodeID {
			n = node
		}
	}
	if n.ID == "" {
		return Node{}, fmt.Errorf("the placeholder %s runs on node %s, which the Swarm does not list", name, t.NodeID)
	}
	if t.Reserved == mem {
		return n, nil
	}
	if n.Free()+t.Reserved < mem {
		return Node{}, m.noRoom(ctx, mem, fmt.Sprintf("its volumes are on %s, where it reserves %s now", n.Hostname, mib(t.Reserved)))
	}
	if _, err := m.docker(ctx, "service", "update", "--detach", "--reserve-memory", fmt.Sprint(mem), name); err != nil {
		return Node{}, fmt.Errorf("reserve %s for %s: %w", mib(mem), instance, err)
	}
	deadline := time.Now().Add(bound)
	for {
		placed, ok, pending, err := m.where(ctx, instance)
		switch {
		case err != nil:
			return Node{}, err
		case ok:
			return placed, nil
		case time.Now().After(deadline):
			return Node{}, m.noRoom(ctx, mem, pending)
		}
		select {
		case <-ctx.Done():
			return Node{}, ctx.Err()
		case <-time.After(m.poll()):
		}
	}
}

// Unplace removes instance's placeholder, releasing its room.
func (m Manager) Unplace(ctx context.Context, instance string) error {
	_, err := m.docker(ctx, "service", "rm", PlaceholderName(instance))
	if err != nil && strings.Contains(err.Error(), "not found") {
		return nil
	}
	return err
}

// DeployOptions are how Deploy goes about it.
type DeployOptions struct {
	// Idle names the services deployed before that run no container: they are started
	// again (see restart).
	Idle map[string]bool
	// BeforeWave, when set, runs before each wave is deployed; an error stops the deploy
	// (a wave whose services mount files still being copied to the node waits there).
	BeforeWave func(wave []string) error
	Progress   io.Writer
	Bound      time.Duration // limits the whole deploy
}

// Deploy deploys the rendered stack as name, wave after wave: each wave is deployed
// with the earlier ones (a redeploy leaves those unchanged, and services of later waves
// are pruned only by the last), and the next waits until every service that others
// depend on has reached its condition. The images are the node's own (--resolve-image
// never: nothing asks a registry), unless the images are in a registry
// (Rendered.Registry).
func (m Manager) Deploy(ctx context.Context, name string, r stack.Rendered, o DeployOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.Bound)
	defer cancel()
	idle, progress := o.Idle, o.Progress
	var full map[string]any
	if err := json.Unmarshal(r.File, &full); err != nil {
		return err
	}
	services, _ := full["services"].(map[string]any)
	deployed := map[string]any{}
	api, _ := dockerapi.ForEnv(m.Env)
	replaced := map[string]string{} // a restarted idle service → its task before
	for i, wave := range r.Waves {
		for _, svc := range wave {
			deployed[svc] = services[svc]
		}
		full["services"] = deployed
		file, err := json.Marshal(full)
		if err != nil {
			return err
		}
		if o.BeforeWave != nil {
			if err := o.BeforeWave(wave); err != nil {
				return err
			}
		}
		fmt.Fprintf(progress, "  deploying %s\n", strings.Join(wave, ", "))
		args := []string{"stack", "deploy", "--resolve-image", "never", "-c", "-", name}
		if r.Registry != "" { // the manager pins each image's digest; nodes pull what they lack
			args = []string{"stack", "deploy", "--resolve-image", "always", "--with-registry-auth", "-c", "-", name}
		}
		if i == len(r.Waves)-1 { // only the whole file says which services are gone
			args = append(args, "--prune")
		}
		err = execx.Run(ctx, execx.Cmd{Name: "docker", Args: args, Env: m.Env, Stdin: strings.NewReader(string(file)), Timeout: queryBound})
		if err != nil {
			return fmt.Errorf("docker stack deploy %s: %w", name, err)
		}
		if err := m.restart(ctx, api, name, wave, idle, replaced); err != nil {
			return err
		}
		if i == len(r.Waves)-1 {
			break
		}
		for _, svc := range wave {
			if c, waited := r.Ready[svc]; waited {
				if err := m.await(ctx, api, name+"_"+svc, c, replaced[svc]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Services lists the stack's services by their names in the file (none when the stack
// is not deployed).
func (m Manager) Services(ctx context.Context, stack string) ([]string, error) {
	var found []string
	if api := m.api(); api != nil {
		var err error
		if found, err = api.ServiceNames(ctx, dockerapi.Filters{"label": {"com.docker.stack.namespace=" + stack}}); err != nil {
			return nil, err
		}
	} else {
		out, err := m.docker(ctx, "service", "ls", "--filter", "label=com.docker.stack.namespace="+stack, "--format", "{{.Name}}")
		if err != nil {
			return nil, err
		}
		found = strings.Fields(out)
	}
	var names []string
	for _, svc := range found {
		names = append(names, strings.TrimPrefix(svc, stack+"_"))
	}
	return names, nil
}

// restart starts again the idle services of a wave: a service whose restart policy is
// none is not replaced after a drain or a node's loss, and a redeploy of an unchanged
// service changes nothing, while up means every service runs (as compose up starts
// stopped containers again). Each one's task before is noted in replaced, so a wait
// for it does not take that task (which the manager may still believe runs) for the new.
func (m Manager) restart(ctx context.Context, api *dockerapi.Client, stack string, wave []string, idle map[string]bool, replaced map[string]string) error {
	for _, svc := range wave {
		if !idle[svc] {
			continue
		}
		if before, err := m.newestOf(ctx, api, stack+"_"+svc); err == nil {
			replaced[svc] = before.ID
		}
		if _, err := m.docker(ctx, "service", "update", "--detach", "--force", stack+"_"+svc); err != nil {
			return fmt.Errorf("start %s again: %w", svc, err)
		}
	}
	return nil
}

// await waits until the service's task reaches c (a task other than notTask, the one it
// had before a restart). A Swarm task with a health check is "starting" until it is
// healthy, then "running": started takes either, healthy only running (a task without a
// health check is running as soon as it starts). Through the manager's socket (a
// tunnel's) it asks every 25 ms, one call each; else as often as Poll says, two docker
// commands each.
func (m Manager) await(ctx context.Context, api *dockerapi.Client, service string, c stack.Condition, notTask string) error {
	want := map[stack.Condition]string{stack.Started: "starting", stack.Healthy: "running", stack.Completed: "complete"}[c]
	poll := m.poll()
	if api != nil {
		poll = 25 * time.Millisecond
	}
	for {
		t, err := m.newestOf(ctx, api, service)
		if err == nil && t.ID != "" && t.ID != notTask {
			switch {
			case t.State == want || want == "starting" && t.State == "running":
				return nil
			case t.State == "failed" || t.State == "rejected":
				return fmt.Errorf("%s: its task %s: %s", service, t.State, t.Err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become %s in time: %w", service, want, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// newestOf is the newest task of service (none yet: the zero task), through the
// manager's socket when api is not nil.
func (m Manager) newestOf(ctx context.Context, api *dockerapi.Client, service string) (task, error) {
	if api != nil {
		found, err := api.Tasks(ctx, dockerapi.Filters{"service": {service}})
		if dockerapi.NotFound(err) {
			return task{}, nil
		}
		return newest(tasksOf(found)), err
	}
	ids, err := m.docker(ctx, "service", "ps", "-q", service)
	if err != nil && strings.Contains(err.Error(), "no such service") {
		return task{}, nil
	}
	if err != nil || ids == "" {
		return task{}, err
	}
	tasks, err := m.inspectTasks(ctx, strings.Fields(ids))
	return newest(tasks), err
}

// RemoveStack removes the stack's services and networks and waits until none of its
// tasks is left (its volumes stay, on the node).
func (m Manager) RemoveStack(ctx context.Context, name string, bound time.Duration) error {
	if _, err := m.docker(ctx, "stack", "rm", name); err != nil && !nothingInStack(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		left, err := m.docker(ctx, "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+name)
		if err == nil && left == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stack %s is still being removed: %w", name, ctx.Err())
		case <-time.After(m.poll()):
		}
	}
}

// ServicesMounting lists the services of stack whose tasks mount any of volumes (by
// their full names), as name=replicas: what Scale takes to bring them back.
func (m Manager) ServicesMounting(ctx context.Context, stack string, volumes []string) ([]string, error) {
	ids, err := m.docker(ctx, "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+stack)
	if err != nil || ids == "" {
		return nil, err
	}
	out, err := m.docker(ctx, append([]string{"service", "inspect", "--format", "{{json .Spec}}"}, strings.Fields(ids)...)...)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, v := range volumes {
		want[v] = true
	}
	var specs []string
	for _, line := range strings.Split(out, "\n") {
		var s struct {
			Name string
			Mode struct {
				Replicated *struct{ Replicas uint64 }
			}
			TaskTemplate struct {
				ContainerSpec struct {
					Mounts []struct{ Type, Source string }
				}
			}
		}
		if json.Unmarshal([]byte(line), &s) != nil || s.Mode.Replicated == nil {
			continue
		}
		for _, mt := range s.TaskTemplate.ContainerSpec.Mounts {
			if mt.Type == "volume" && want[mt.Source] {
				specs = append(specs, fmt.Sprintf("%s=%d", s.Name, s.Mode.Replicated.Replicas))
				break
			}
		}
	}
	sort.Strings(specs)
	return specs, nil
}

// Scale sets the replicas of services given as name=replicas, without waiting for the
// Swarm to converge (the caller waits for what it needs: containers gone, a gate).
func (m Manager) Scale(ctx context.Context, specs ...string) error {
	if len(specs) == 0 {
		return nil
	}
	_, err := m.docker(ctx, append([]string{"service", "scale", "--detach"}, specs...)...)
	return err
}

// AwaitStopped waits until the services (name=replicas, as Scale takes) have no task
// left that runs or is being removed. Scaling a service up while its last task is still
// being removed leaves it with no task at all on this engine's Swarm (the scale is
// accepted, nothing runs), so a scale to zero is waited for before the scale back.
func (m Manager) AwaitStopped(ctx context.Context, specs []string) error {
	args := []string{"service", "ps", "-q", "--filter", "desired-state=running", "--filter", "desired-state=remove"}
	for _, spec := range specs {
		name, _, _ := strings.Cut(spec, "=")
		args = append(args, name)
	}
	for {
		if ids, err := m.docker(ctx, args...); err == nil && ids == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the tasks of %s did not end in time: %w", strings.Join(args[7:], ", "), ctx.Err())
		case <-time.After(m.poll()):
		}
	}
}

// nothingInStack tells docker's refusal of a stack with no service (its wording's case
// differs between commands and versions).
func nothingInStack(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "nothing found in stack")
}

// OverlayRoom is how many more overlay networks the Swarm can make from its address
// pool (each stack makes at least one), and how many it holds in all.
func (m Manager) OverlayRoom(ctx context.Context) (free, total int, err error) {
	info, err := m.docker(ctx, "info", "--format", "{{json .Swarm.Cluster.DefaultAddrPool}} {{.Swarm.Cluster.SubnetSize}}")
	if err != nil {
		return 0, 0, err
	}
	bases, size, _ := strings.Cut(info, " ")
	var pool []string
	if err := json.Unmarshal([]byte(bases), &pool); err != nil {
		return 0, 0, fmt.Errorf("read the Swarm's address pool %q: %w", info, err)
	}
	bits, err := strconv.Atoi(strings.TrimSpace(size))
	if err != nil {
		return 0, 0, fmt.Errorf("read the Swarm's subnet size %q: %w", info, err)
	}
	pools, err := addrpool.SwarmPools(pool, bits)
	if err != nil {
		return 0, 0, err
	}
	used, err := addrpool.NetworkSubnets(func(args ...string) (string, error) { return m.docker(ctx, args...) }, "--filter", "driver=overlay")
	if err != nil {
		return 0, 0, err
	}
	free, total = addrpool.Room(pools, used)
	return free, total, nil
}
