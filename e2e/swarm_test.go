package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
	stackfile "github.com/ktrdr/sandbox/pkg/stack"
	"github.com/ktrdr/sandbox/pkg/swarm"
)

// The Swarm test bed (scripts/swarm-testbed.sh): three Docker engines in network
// namespaces, sbx-sw1 the manager and sbx-sw2/3 workers, with no IPVS in the kernel.
const swarmManager = "ssh://root@10.210.0.11"

func requireSwarm(t *testing.T) {
	t.Helper()
	requireDocker(t)
	if err := exec.Command(filepath.Join(repoRoot, "scripts", "swarm-testbed.sh"), "status").Run(); err != nil {
		notRun(t, "SWARM SUITE NOT RUN: the Swarm test bed does not answer (sudo scripts/swarm-testbed.sh up)")
	}
}

// on runs docker against one engine of the bed (the manager, or a node by address).
func on(t *testing.T, endpoint string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+endpoint)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s on %s: %v\n%s", strings.Join(args, " "), endpoint, err, out)
	}
	return strings.TrimSpace(string(out))
}

func nodeEngine(n swarm.Node) string { return "ssh://root@" + n.Addr }

// Placement by the Swarm's own scheduler and a deploy of the rendered demo stack, end to
// end on the bed: a node whose memory is reserved is skipped and a drained one avoided;
// a second instance lands where the scheduler has room; an instance no node can take is
// refused with each node's figures and leaves nothing; the demo stack, rendered from the
// compose file, passes the gate's checks on its node without IPVS; and its removal
// leaves no service, container, network or volume on any node.
func TestSwarmPlacesByReservationAndRunsTheRenderedDemo(t *testing.T) {
	requireSwarm(t)
	ctx := context.Background()
	m := swarm.Manager{Env: append(os.Environ(), "DOCKER_HOST="+swarmManager)}
	nodes, err := m.Nodes(ctx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("nodes %+v, %v", nodes, err)
	}
	byName := map[string]swarm.Node{}
	for _, n := range nodes {
		if n.State != "ready" || n.Availability != "active" || n.MemBytes == 0 {
			t.Fatalf("node %+v is not ready and active", n)
		}
		byName[n.Hostname] = n
	}
	begun := time.Now()
	image := helperEverywhere(t, nodes)
	const gib = 1 << 30
	a, b, c := "swe2e--a", "swe2e--b", "swe2e--c"
	t.Cleanup(func() {
		for _, id := range []string{a, b, c, "swe2e-hog"} {
			_ = m.Unplace(context.Background(), id)
		}
		_ = exec.Command("docker", "-H", swarmManager, "node", "update", "--availability", "active", "sbx-sw3").Run()
	})
	// sbx-sw2's memory is taken (all but 1 GiB), sbx-sw3 is drained: A must land on sbx-sw1
	hog := byName["sbx-sw2"].MemBytes - gib
	on(t, swarmManager, "service", "create", "--detach", "--no-resolve-image", "--name", swarm.PlaceholderName("swe2e-hog"), "--constraint", "node.hostname==sbx-sw2",
		"--reserve-memory", fmt.Sprint(hog), image, "idle")
	on(t, swarmManager, "node", "update", "--availability", "drain", "sbx-sw3")
	t.Logf("helper on every node, sbx-sw2 reserved, sbx-sw3 drained: %s", time.Since(begun).Round(time.Millisecond))
	nodeA, err := m.Place(ctx, a, 2*gib, image, "", time.Minute)
	if err != nil || nodeA.Hostname != "sbx-sw1" {
		t.Fatalf("A placed on %+v (%v), want sbx-sw1: sbx-sw2 has no room and sbx-sw3 is drained", nodeA, err)
	}
	// drained sbx-sw3 comes back: B, which needs more than sbx-sw1 has left, goes there
	on(t, swarmManager, "node", "update", "--availability", "active", "sbx-sw3")
	nodeB, err := m.Place(ctx, b, byName["sbx-sw3"].MemBytes-gib, image, "", time.Minute)
	if err != nil || nodeB.Hostname != "sbx-sw3" {
		t.Fatalf("B placed on %+v (%v), want sbx-sw3, the only node with room", nodeB, err)
	}
	if again, err := m.Place(ctx, a, 2*gib, image, "", time.Minute); err != nil || again.Hostname != "sbx-sw1" {
		t.Errorf("placing A again moved it: %+v %v", again, err)
	}
	// C fits nowhere: refused, with every node's figures, and its placeholder gone
	_, err = m.Place(ctx, c, byName["sbx-sw1"].MemBytes, image, "", time.Minute)
	if !errors.Is(err, swarm.ErrNoRoom) || !strings.Contains(err.Error(), "sbx-sw1 (ready, active)") || !strings.Contains(err.Error(), "sbx-sw3") {
		t.Errorf("C: %v, want no room with the nodes' figures", err)
	}
	if out := on(t, swarmManager, "service", "ls", "-q", "--filter", "name="+swarm.PlaceholderName(c)); out != "" {
		t.Errorf("the refused placeholder is left: %s", out)
	}
	nodes, _ = m.Nodes(ctx)
	for _, n := range nodes {
		if n.Hostname == "sbx-sw1" && (len(n.Instances) != 1 || n.Instances[0] != a || n.Reserved < 2*gib) {
			t.Errorf("sbx-sw1 holds %v reserving %d, want A's 2 GiB", n.Instances, n.Reserved)
		}
	}
	t.Logf("placements checked: %s", time.Since(begun).Round(time.Millisecond))
	deployDemo(t, m, a, nodeA)
}

// helperEverywhere builds the snapshot helper on every node (where missing): the
// placeholders' image, which a node must have to run one.
func helperEverywhere(t *testing.T, nodes []swarm.Node) string {
	t.Helper()
	var image string
	for _, n := range nodes {
		env := append(os.Environ(), "DOCKER_HOST="+nodeEngine(n))
		eng, err := platform.Learn(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		if image, err = (snapshot.Docker{Env: env, Platform: eng.Platform}).EnsureHelper(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return image
}

// deployDemo renders the demo stack for instance on node, builds its image there,
// deploys it, checks what the gate checks, and removes it, leaving nothing.
func deployDemo(t *testing.T, m swarm.Manager, instance string, node swarm.Node) {
	ctx := context.Background()
	engine := nodeEngine(node)
	dir := t.TempDir()
	for _, f := range []string{"docker-compose.sandbox.yml", "demo/Dockerfile"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), b)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "demo", "bin", "demo"), "./demo")
	build.Dir, build.Env = repoRoot, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("demo binary: %v\n%s", err, out)
	}
	cfg := exec.Command("docker", "compose", "-p", instance, "--project-directory", dir, "-f", filepath.Join(dir, "docker-compose.sandbox.yml"), "config", "--format", "json")
	cfg.Env = append(os.Environ(), "KTRDR_DEMO_IMAGE=swe2e-demo:"+instance)
	config, err := cfg.Output()
	if err != nil {
		t.Fatalf("compose config: %v", err)
	}
	r, err := stackfile.Render(config, stackfile.Options{Project: instance, Node: node.Hostname})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]bool{}
	for _, tag := range r.Built {
		tags[tag] = true
	}
	for tag := range tags { // built on the node, as the tool will: nothing is pulled
		on(t, engine, "build", "-q", "-t", tag, filepath.Join(dir, "demo"))
	}
	// bind-mounted paths exist on the node (the tool syncs them there)
	mkdirs := []string{"mkdir", "-p", filepath.Join(dir, "data"), filepath.Join(dir, "models"), filepath.Join(dir, "strategies")}
	if out, err := exec.Command("ssh", append([]string{"root@" + node.Addr}, mkdirs...)...).CombinedOutput(); err != nil {
		t.Fatalf("ssh: %v %s", err, out)
	}
	t.Cleanup(func() { removeDemo(t, m, instance, tags) })
	started := time.Now()
	if err := m.Deploy(ctx, instance, r, swarm.DeployOptions{Progress: &logWriter{t, started}, Bound: 3 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	t.Logf("deployed in %s", time.Since(started).Round(time.Millisecond))
	// the gate's checks, against the node's host-mode ports
	base := "http://" + node.Addr + ":8000"
	waitFor(t, 2*time.Minute, "the backend healthy and 4 workers registered", func() bool {
		health, _ := get(t, base+"/api/v1/health")
		_, workers := get(t, base+"/api/v1/workers")
		return health == 200 && strings.Count(workers, `"worker_id"`) == 4
	})
	t.Logf("the demo stack passed its checks on %s %s after the deploy began", node.Hostname, time.Since(started).Round(time.Millisecond))
	// the node's engine answers the tool's questions as for a compose project: its
	// containers and volumes carry compose's labels
	out := on(t, engine, "ps", "--filter", "label=com.docker.compose.project="+instance, "--format", "{{.Names}}")
	if n := len(strings.Fields(out)); n != len(r.Built) {
		t.Errorf("%d containers of %s on %s, want %d: %s", n, instance, node.Hostname, len(r.Built), out)
	}
	if vols := on(t, engine, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+instance); vols != instance+"_postgres_data" {
		t.Errorf("volumes of %s on %s: %q", instance, node.Hostname, vols)
	}
}

// removeDemo removes the stack, its volumes and images, and checks no node keeps any.
func removeDemo(t *testing.T, m swarm.Manager, instance string, tags map[string]bool) {
	ctx := context.Background()
	begun := time.Now()
	if err := m.RemoveStack(ctx, instance, 2*time.Minute); err != nil {
		t.Error(err)
	}
	defer func() { t.Logf("removed and checked on every node: %s", time.Since(begun).Round(time.Millisecond)) }()
	nodes, err := m.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		engine := nodeEngine(n)
		label := "label=com.docker.stack.namespace=" + instance
		waitFor(t, time.Minute, "the stack's containers gone from "+n.Hostname, func() bool {
			return on(t, engine, "ps", "-aq", "--filter", label) == ""
		})
		if vols := on(t, engine, "volume", "ls", "-q", "--filter", label); vols != "" {
			on(t, engine, append([]string{"volume", "rm"}, strings.Fields(vols)...)...)
		}
		for tag := range tags {
			_ = exec.Command("docker", "-H", engine, "image", "rm", "-f", tag).Run()
		}
		waitFor(t, time.Minute, "the stack's networks gone from "+n.Hostname, func() bool {
			return on(t, engine, "network", "ls", "-q", "--filter", label) == ""
		})
		if left := on(t, engine, "volume", "ls", "-q", "--filter", label); left != "" {
			t.Errorf("volumes left on %s: %s", n.Hostname, left)
		}
	}
	if left := on(t, swarmManager, "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+instance); left != "" {
		t.Errorf("services left: %s", left)
	}
}

func waitFor(t *testing.T, bound time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// logWriter logs each line written to it with the time since start.
type logWriter struct {
	t     *testing.T
	start time.Time
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%6.1fs %s", time.Since(w.start).Seconds(), strings.TrimSpace(string(p)))
	return len(p), nil
}

// A node that goes away (all its processes killed, as a machine losing power) shows as
// down, and the scheduler places nothing there; back up, it rejoins and is ready.
func TestSwarmNodeThatGoesAwayIsDownAndNotChosen(t *testing.T) {
	requireSwarm(t)
	ctx := context.Background()
	m := swarm.Manager{Env: append(os.Environ(), "DOCKER_HOST="+swarmManager)}
	bed := filepath.Join(repoRoot, "scripts", "swarm-testbed.sh")
	state := func(host string) string {
		nodes, err := m.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Hostname == host {
				return n.State
			}
		}
		return "missing"
	}
	t.Cleanup(func() { _ = exec.Command(bed, "start", "3").Run() })
	if out, err := exec.Command(bed, "stop", "3").CombinedOutput(); err != nil {
		t.Fatalf("stop node 3: %v %s", err, out)
	}
	begun := time.Now()
	waitFor(t, 90*time.Second, "sbx-sw3 seen down by the manager", func() bool { return state("sbx-sw3") == "down" })
	t.Logf("sbx-sw3 down after %s", time.Since(begun).Round(time.Millisecond))
	nodes, err := m.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var up []swarm.Node
	for _, n := range nodes {
		if n.Hostname != "sbx-sw3" {
			up = append(up, n)
		}
	}
	image := helperEverywhere(t, up)
	id := "swe2e--down"
	t.Cleanup(func() { _ = m.Unplace(context.Background(), id) })
	// sbx-sw1 holds a quarter of its memory: an instance needing more than the rest fits
	// only on sbx-sw2 (or sbx-sw3, were it up)
	quarter := up[0].MemBytes / 4
	t.Cleanup(func() { _ = m.Unplace(context.Background(), "swe2e-hog1") })
	on(t, swarmManager, "service", "create", "--detach", "--no-resolve-image", "--name", swarm.PlaceholderName("swe2e-hog1"),
		"--constraint", "node.hostname==sbx-sw1", "--reserve-memory", fmt.Sprint(quarter), image, "idle")
	waitFor(t, time.Minute, "the hog on sbx-sw1", func() bool { n, ok, _ := m.Placement(ctx, "swe2e-hog1"); return ok && n.Hostname == "sbx-sw1" })
	n, err := m.Place(ctx, id, up[0].MemBytes-quarter+1, image, "", time.Minute)
	if err != nil || n.Hostname != "sbx-sw2" {
		t.Errorf("placed on %+v (%v), want sbx-sw2: sbx-sw1 is short and sbx-sw3 is down", n, err)
	}
	if out, err := exec.Command(bed, "start", "3").CombinedOutput(); err != nil {
		t.Fatalf("start node 3: %v %s", err, out)
	}
	begun = time.Now()
	waitFor(t, 90*time.Second, "sbx-sw3 ready again", func() bool { return state("sbx-sw3") == "ready" })
	t.Logf("sbx-sw3 ready again after %s", time.Since(begun).Round(time.Millisecond))
}

// A sandbox on the Swarm through the targets: create -swarm against the manager, up
// places it where the scheduler has room (sbx-sw1 is nearly full, so not there), builds
// and deploys it there and passes the gate through the tunnel; status names the node;
// down removes the stack; destroy leaves nothing on any node and releases the room.
func TestSwarmSandboxThroughTheTargets(t *testing.T) {
	requireSwarm(t)
	ctx := context.Background()
	w := newSwarmWorld(t, "remo-demo:swe2e")
	m, nodes, work, home, repo, src, bin := w.m, w.nodes, w.work, w.home, w.repo, w.src, w.bin
	environ, git, run, transcript := w.environ, w.git, w.run, w.transcript
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-f", filepath.Join(home, ".remo")).Run()
		_ = m.RemoveStack(context.Background(), "remo--s", time.Minute)
		_ = m.Unplace(context.Background(), "remo--s")
		for _, n := range nodes { // a failed run's volumes would seed the next one's
			removeVolumesOn(t, nodeEngine(n), "remo--s_db_data", "remo--t_db_data", "remo--u_db_data")
		}
	})
	// the shared data on every node that may run it
	for _, n := range nodes {
		run(repo, 0, "sandbox:initShared", "-engine="+nodeEngine(n), "-from="+src)
	}
	run(repo, 2, "sandbox:create", "s", "-swarm")
	out := run(repo, 1, "sandbox:create", "s", "-engine=ssh://root@10.200.0.9", "-swarm")
	if strings.Contains(out, "Swarm") && !strings.Contains(out, "cannot be reached") {
		t.Errorf("an unreachable manager:\n%s", out)
	}
	run(repo, 0, "sandbox:create", "s", "-engine="+swarmManager, "-swarm")
	wt := filepath.Join(work, "remo--s")
	out = run(wt, 0, "sandbox:up")
	for _, want := range []string{"Placing remo--s on the Swarm", "Running: docker stack deploy", "Startability Gate: PASSED"} {
		if !strings.Contains(out, want) {
			t.Errorf("up: missing %q in\n%s", want, out)
		}
	}
	node, ok, err := m.Placement(ctx, "remo--s")
	if err != nil || !ok || node.Hostname == "sbx-sw1" {
		t.Fatalf("placed on %+v (%v %v): sbx-sw1 has no room", node, ok, err)
	}
	if code, body := get(t, "http://127.0.0.1:37181/api/v1/health"); code != 200 {
		t.Errorf("health through the tunnel: %d %s", code, body)
	}
	if out := run(wt, 0, "sandbox:status"); !strings.Contains(out, node.Hostname+" (Swarm "+swarmManager+")") || !strings.Contains(out, "running") ||
		!strings.Contains(out, "Node: "+node.Hostname+", ready and active on its Swarm") {
		t.Errorf("status does not name the node %s:\n%s", node.Hostname, out)
	}
	if out := run(wt, 0, "sandbox:status", "-json"); !strings.Contains(out, `"availability": "active"`) || !strings.Contains(out, `"hostname": "`+node.Hostname+`"`) {
		t.Errorf("status -json does not give the node:\n%s", out)
	}
	if out := run(repo, 0, "sandbox:list", "-json"); !strings.Contains(out, `"engine": "`+node.Hostname+` (Swarm `+swarmManager+`)"`) {
		t.Errorf("list -json does not name the node:\n%s", out)
	}
	// the fleet: every node with its state, availability, memory and the sandboxes on it
	var listing struct {
		Nodes []struct {
			Swarm, Hostname, State, Availability string
			Reserved                             int64 `json:"mem_reserved_bytes"`
			Instances                            []string
		} `json:"swarm_nodes"`
	}
	decode(t, run(repo, 0, "sandbox:list", "-json"), &listing)
	if len(listing.Nodes) != 3 {
		t.Errorf("list -json swarm_nodes: %+v", listing.Nodes)
	}
	for _, n := range listing.Nodes {
		if holds := len(n.Instances) == 1 && n.Instances[0] == "remo--s"; holds != (n.Hostname == node.Hostname) || n.Swarm != swarmManager || n.State != "ready" || holds && n.Reserved < 512<<20 {
			t.Errorf("list -json node %+v (remo--s is on %s)", n, node.Hostname)
		}
	}
	if out := run(repo, 0, "sandbox:list"); !strings.Contains(out, "Swarm "+swarmManager+":") || !regexp.MustCompile(node.Hostname+` +worker +ready +active +512\.0 MB of .*remo--s`).MatchString(out) {
		t.Errorf("list does not show the fleet:\n%s", out)
	}
	if out := run(repo, 0, "sandbox:doctor"); !strings.Contains(out, "✓ node "+node.Hostname+" (Swarm "+swarmManager+"): worker, ready, active") || !strings.Contains(out, "overlay networks (Swarm "+swarmManager+"): room for") ||
		!strings.Contains(out, "✓ slot 1 ports: forwarded here by the tunnel to "+node.Hostname) {
		t.Errorf("doctor does not show the fleet:\n%s", out)
	}
	if out = run(wt, 0, "sandbox:logs", "-service=web"); !strings.Contains(out, "backend listening") {
		t.Errorf("logs on the node:\n%s", out)
	}
	sh := exec.Command(bin, "sandbox:shell")
	sh.Dir, sh.Env, sh.Stdin = wt, environ, strings.NewReader("ls /app/site /app/assets\nexit\n")
	if b, err := sh.CombinedOutput(); err != nil || !strings.Contains(string(b), "index.html") || !strings.Contains(string(b), "a.txt") {
		t.Errorf("shell on the node: %v\n%s", err, b)
	}
	// snapshot → change → restore on the node: the database's service is scaled to zero
	// around the swap (a stopped container would be replaced by the Swarm at once)
	addRow(t, 37181, "first")
	if out = run(wt, 0, "sandbox:snapshot", "-name=sw"); !strings.Contains(out, "Snapshot sw") {
		t.Errorf("snapshot on the node:\n%s", out)
	}
	addRow(t, 37181, "second")
	out = run(wt, 0, "sandbox:restore", "-name=sw")
	if !strings.Contains(out, "Scaling to zero on the Swarm: remo--s_db=0") || !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("restore on the Swarm:\n%s", out)
	}
	if got := rows(t, 37181); got != "first" {
		t.Errorf("rows after a restore on the Swarm: %q, want the snapshot's", got)
	}
	seededElsewhere(t, m, run, work, repo, node)
	run(wt, 0, "sandbox:down")
	if left := on(t, swarmManager, "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace=remo--s"); left != "" {
		t.Errorf("down left services: %s", left)
	}
	out = run(wt, 0, "sandbox:up")
	if !strings.Contains(out, "Startability Gate: PASSED") || strings.Contains(out, "Placing") {
		t.Errorf("up again (kept its node):\n%s", out)
	}
	run(wt, 0, "sandbox:destroy", "-force")
	nothingLeftOn(t, m, node, "remo--s")
	_ = exec.Command("docker", "-H", nodeEngine(node), "image", "rm", "-f", "remo-demo:swe2e").Run()
	localProdOnTheSwarm(t, m, run, git, work, repo)
	withARegistry(t, m, run, work, repo)
	gcOnTheSwarm(t, m, run, work, repo)
	if t.Failed() {
		t.Logf("transcript:\n%s", transcript.String())
	}
}

// seededElsewhere: with remo--s's node full, a sandbox seeded from its snapshot lands on
// the third node (the snapshot crosses nodes through this machine) and restores from it
// there; draining that node stops it, status says so, its up and a new sandbox's up are
// refused; active again, it comes back; its node taken down, it is unreachable and
// nothing of it is deleted; back up, it runs; destroyed, nothing of it is left there.
func seededElsewhere(t *testing.T, m swarm.Manager, run func(string, int, ...string) string, work, repo string, sNode swarm.Node) {
	ctx := context.Background()
	free, err := m.NodeNamed(ctx, sNode.Hostname)
	if err != nil {
		t.Fatal(err)
	}
	image := helperEverywhere(t, []swarm.Node{sNode})
	t.Cleanup(func() { _ = m.Unplace(context.Background(), "swe2e-full2") })
	on(t, swarmManager, "service", "create", "--detach", "--no-resolve-image", "--name", swarm.PlaceholderName("swe2e-full2"),
		"--constraint", "node.hostname=="+sNode.Hostname, "--reserve-memory", fmt.Sprint(free.Free()-256<<20), image, "idle")
	waitFor(t, time.Minute, sNode.Hostname+" nearly full", func() bool { _, ok, _ := m.Placement(ctx, "swe2e-full2"); return ok })
	third := map[string]string{"sbx-sw2": "sbx-sw3", "sbx-sw3": "sbx-sw2"}[sNode.Hostname]
	bed := filepath.Join(repoRoot, "scripts", "swarm-testbed.sh")
	t.Cleanup(func() {
		_ = exec.Command(bed, "start", strings.TrimPrefix(third, "sbx-sw")).Run()
		_ = exec.Command("docker", "-H", swarmManager, "node", "update", "--availability", "active", third).Run()
		_ = m.RemoveStack(context.Background(), "remo--t", time.Minute)
		_ = m.Unplace(context.Background(), "remo--t")
		_ = m.Unplace(context.Background(), "remo--u")
	})

	out := run(repo, 0, "sandbox:create", "t", "-engine="+swarmManager, "-swarm", "-seed=remo--s:sw")
	node, ok, err := m.Placement(ctx, "remo--t")
	if !strings.Contains(out, "Placing remo--t on the Swarm") || err != nil || !ok || node.Hostname != third {
		t.Fatalf("create -seed placed remo--t on %+v (%v %v), want %s:\n%s", node, ok, err, third, out)
	}
	wtT := filepath.Join(work, "remo--t")
	run(wtT, 0, "sandbox:up")
	if got := rows(t, 37182); got != "first" {
		t.Errorf("rows of a sandbox seeded across nodes: %q, want the snapshot's", got)
	}
	addRow(t, 37182, "third")
	run(wtT, 0, "sandbox:restore", "-name=sw", "-from=remo--s")
	if got := rows(t, 37182); got != "first" {
		t.Errorf("rows after restoring another node's snapshot: %q", got)
	}

	on(t, swarmManager, "node", "update", "--availability", "drain", third)
	if out := run(wtT, 0, "sandbox:status"); !strings.Contains(out, "Node: "+third+", ready and drain") {
		t.Errorf("status on a drained node:\n%s", out)
	}
	if out := run(wtT, 1, "sandbox:doctor"); !strings.Contains(out, "node "+third+" (Swarm "+swarmManager+"): worker, ready, drain") || !strings.Contains(out, "remo--t cannot run elsewhere") {
		t.Errorf("doctor with remo--t's node drained:\n%s", out)
	}
	if out := run(wtT, 1, "sandbox:up"); !strings.Contains(out, "whose availability is drain") || !strings.Contains(out, "docker node update --availability active "+third) {
		t.Errorf("up on a drained node:\n%s", out)
	}
	run(repo, 0, "sandbox:create", "u", "-engine="+swarmManager, "-swarm")
	if out := run(filepath.Join(work, "remo--u"), 1, "sandbox:up"); !strings.Contains(out, "no node of the Swarm has room") || !strings.Contains(out, third+" (ready, drain)") {
		t.Errorf("up of a new sandbox with the only node with room drained:\n%s", out)
	}
	run(filepath.Join(work, "remo--u"), 0, "sandbox:destroy", "-force")
	on(t, swarmManager, "node", "update", "--availability", "active", third)
	if out := run(wtT, 0, "sandbox:up"); !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("up once the node is active again:\n%s", out)
	}
	if got := rows(t, 37182); got != "first" {
		t.Errorf("rows after the drain: %q", got)
	}

	nodeDownAndBack(t, m, run, wtT, node)
	run(wtT, 0, "sandbox:destroy", "-force")
	nothingLeftOn(t, m, node, "remo--t")
}

// nodeDownAndBack takes the node of the sandbox in wt down (every process of it killed):
// status says unreachable, destroy deletes nothing and doctor names the node; back up,
// up brings the sandbox back.
func nodeDownAndBack(t *testing.T, m swarm.Manager, run func(string, int, ...string) string, wt string, node swarm.Node) {
	bed := filepath.Join(repoRoot, "scripts", "swarm-testbed.sh")
	hostname := node.Hostname
	number := strings.TrimPrefix(hostname, "sbx-sw")
	if out, err := exec.Command(bed, "stop", number).CombinedOutput(); err != nil {
		t.Fatalf("stop %s: %v %s", hostname, err, out)
	}
	begun := time.Now()
	var status struct{ State string }
	decode(t, run(wt, 0, "sandbox:status", "-json"), &status)
	if status.State != "unreachable" || time.Since(begun) > 20*time.Second {
		t.Errorf("status with its node down (%s): %+v", time.Since(begun), status)
	}
	if out := run(wt, 1, "sandbox:destroy", "-force"); !strings.Contains(out, "cannot be reached") {
		t.Errorf("destroy with its node down:\n%s", out)
	}
	if _, err := os.Stat(wt); err != nil {
		t.Error("destroy deleted the worktree of a sandbox whose node is down")
	}
	if out := run(wt, 1, "sandbox:doctor"); !strings.Contains(out, hostname) {
		t.Errorf("doctor does not name the node that is down:\n%s", out)
	}
	if out, err := exec.Command(bed, "start", number).CombinedOutput(); err != nil {
		t.Fatalf("start %s: %v %s", hostname, err, out)
	}
	waitFor(t, 90*time.Second, hostname+" ready again", func() bool {
		n, err := m.NodeNamed(context.Background(), hostname)
		return err == nil && n.State == "ready"
	})
	// the node's /tmp (where this bed's nodes keep the shared data) did not survive
	out := run(wt, 1, "sandbox:up")
	hint := "sandbox:initShared -engine=" + nodeEngine(node)
	if !strings.Contains(out, "shared data is missing") || !strings.Contains(out, hint) {
		t.Fatalf("up on a node that lost its shared data:\n%s", out)
	}
	run(filepath.Join(filepath.Dir(wt), "repo"), 0, strings.Fields(hint+" -from="+filepath.Join(filepath.Dir(wt), "data"))...)
	if out := run(wt, 0, "sandbox:up"); !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("up once its node is back:\n%s", out)
	}
}

// localProdOnTheSwarm: local-prod opts in at init as a sandbox does at create; up places
// it, status names the node; destroy keeps a snapshot, copied here, and leaves nothing
// on the node, its room released.
func localProdOnTheSwarm(t *testing.T, m swarm.Manager, run func(string, int, ...string) string, git func(string, ...string), work, repo string) {
	ctx := context.Background()
	t.Cleanup(func() {
		_ = m.RemoveStack(context.Background(), "remo-prod", time.Minute)
		_ = m.Unplace(context.Background(), "remo-prod")
	})
	prod := filepath.Join(work, "prod")
	git(work, "clone", "-q", repo, prod)
	run(prod, 0, "localProd:init", "-engine="+swarmManager, "-swarm")
	out := run(work, 0, "localProd:up", "-noSecrets")
	node, ok, err := m.Placement(ctx, "remo-prod")
	if !strings.Contains(out, "Placing remo-prod on the Swarm") || !strings.Contains(out, "Startability Gate: PASSED") || err != nil || !ok {
		t.Fatalf("localProd:up on the Swarm (placed on %+v, %v %v):\n%s", node, ok, err, out)
	}
	if code, _ := get(t, "http://127.0.0.1:27180/api/v1/health"); code != 200 {
		t.Errorf("local-prod health through the tunnel: %d", code)
	}
	if out := run(work, 0, "localProd:status"); !strings.Contains(out, "Node: "+node.Hostname+", ready and active") {
		t.Errorf("localProd:status on the Swarm:\n%s", out)
	}
	if out := run(work, 0, "localProd:destroy", "-force"); !strings.Contains(out, "Snapshot before-destroy-") {
		t.Errorf("localProd:destroy on the Swarm kept no snapshot:\n%s", out)
	}
	nothingLeftOn(t, m, node, "remo-prod")
	_ = exec.Command("docker", "-H", nodeEngine(node), "image", "rm", "-f", "remo-demo:swe2e").Run()
}

// The bed's registry (scripts/swarm-testbed.sh runs one on the bridge, trusted by every
// node as an HTTP registry).
const bedRegistry = "10.210.0.1:5999"

// withARegistry: -registry needs -swarm and a registry address (exit 2 otherwise); with
// one, up pushes the image it built on the node there, the stack names it there pinned
// to its digest, a second up pushes nothing; destroy leaves nothing on the node.
func withARegistry(t *testing.T, m swarm.Manager, run func(string, int, ...string) string, work, repo string) {
	if code, _ := get(t, "http://"+bedRegistry+"/v2/"); code != 200 {
		notRun(t, "SWARM -registry TEST NOT RUN: the bed's registry does not answer (scripts/swarm-testbed.sh builds scripts/testregistry)")
		return
	}
	ctx := context.Background()
	t.Cleanup(func() {
		_ = m.RemoveStack(context.Background(), "remo--g", time.Minute)
		_ = m.Unplace(context.Background(), "remo--g")
	})
	if out := run(repo, 2, "sandbox:create", "g", "-registry="+bedRegistry); !strings.Contains(out, "-registry needs -swarm") {
		t.Errorf("-registry without -swarm:\n%s", out)
	}
	if out := run(repo, 2, "sandbox:create", "g", "-engine="+swarmManager, "-swarm", "-registry=http://"+bedRegistry); !strings.Contains(out, "is not a registry address") {
		t.Errorf("-registry with a scheme:\n%s", out)
	}
	run(repo, 0, "sandbox:create", "g", "-engine="+swarmManager, "-swarm", "-registry="+bedRegistry)
	wt := filepath.Join(work, "remo--g")
	out := run(wt, 0, "sandbox:up")
	ref := bedRegistry + "/remo-demo:swe2e"
	if !strings.Contains(out, "pushed "+ref) || !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("up with a registry:\n%s", out)
	}
	if code, body := get(t, "http://"+bedRegistry+"/v2/remo-demo/tags/list"); code != 200 || !strings.Contains(body, `"swe2e"`) {
		t.Errorf("the registry's tags: %d %s", code, body)
	}
	if image := on(t, swarmManager, "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", "remo--g_web"); !strings.HasPrefix(image, ref+"@sha256:") {
		t.Errorf("the stack runs %s, want %s pinned to its digest", image, ref)
	}
	if out := run(wt, 0, "sandbox:up"); strings.Contains(out, "pushed") {
		t.Errorf("a second up pushed again:\n%s", out)
	}
	node, ok, err := m.Placement(ctx, "remo--g")
	if err != nil || !ok {
		t.Fatalf("remo--g is not placed: %v", err)
	}
	run(wt, 0, "sandbox:destroy", "-force")
	nothingLeftOn(t, m, node, "remo--g")
	engine := nodeEngine(node)
	if images := on(t, engine, "image", "ls", "--format", "{{.Repository}}"); strings.Contains(images, bedRegistry) {
		t.Errorf("destroy left the registry's tag on %s:\n%s", node.Hostname, images)
	}
	_ = exec.Command("docker", "-H", engine, "image", "rm", "-f", "remo-demo:swe2e").Run()
}

// gcOnTheSwarm: a sandbox on the Swarm whose worktree was deleted by hand is a stale
// entry; gc removes it, and with it its stack (else the Swarm would start its containers
// again) and its placeholder (else its room stays reserved).
func gcOnTheSwarm(t *testing.T, m swarm.Manager, run func(string, int, ...string) string, work, repo string) {
	ctx := context.Background()
	t.Cleanup(func() {
		_ = m.RemoveStack(context.Background(), "remo--h", time.Minute)
		_ = m.Unplace(context.Background(), "remo--h")
	})
	run(repo, 0, "sandbox:create", "h", "-engine="+swarmManager, "-swarm")
	wt := filepath.Join(work, "remo--h")
	run(wt, 0, "sandbox:up")
	node, ok, err := m.Placement(ctx, "remo--h")
	if err != nil || !ok {
		t.Fatalf("remo--h is not placed: %v", err)
	}
	if err := os.RemoveAll(wt); err != nil {
		t.Fatal(err)
	}
	if out := run(repo, 0, "sandbox:gc"); !strings.Contains(out, "removing stale registry entry remo--h") {
		t.Errorf("gc of a sandbox on the Swarm whose worktree is gone:\n%s", out)
	}
	engine := nodeEngine(node)
	waitFor(t, time.Minute, "no container of remo--h on "+node.Hostname, func() bool {
		return on(t, engine, "ps", "-aq", "--filter", "label=com.docker.compose.project=remo--h") == ""
	})
	if left := on(t, swarmManager, "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace=remo--h"); left != "" {
		t.Errorf("gc left the stack's services: %s", left)
	}
	if _, ok, _ := m.Placement(ctx, "remo--h"); ok {
		t.Error("gc left the placeholder of remo--h: its room stays reserved")
	}
	_ = exec.Command("docker", "-H", engine, "volume", "rm", "-f", "remo--h_db_data").Run()
	_ = exec.Command("docker", "-H", engine, "image", "rm", "-f", "remo-demo:swe2e").Run()
}

// nothingLeftOn waits until the node holds no container, volume or stack network of
// project (the Swarm removes a stack's tasks in the background), then checks that its
// placeholder is gone, its room released.
func nothingLeftOn(t *testing.T, m swarm.Manager, node swarm.Node, project string) {
	t.Helper()
	engine := nodeEngine(node)
	waitFor(t, time.Minute, "nothing of "+project+" on "+node.Hostname, func() bool {
		return on(t, engine, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project) == "" &&
			on(t, engine, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+project) == "" &&
			on(t, engine, "network", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+project) == ""
	})
	if _, ok, _ := m.Placement(context.Background(), project); ok {
		t.Errorf("the placeholder of %s is left: its room stays reserved", project)
	}
}

// A sandbox on the Swarm through the targets, for what its first up leaves behind: a
// compose file the Swarm cannot run is refused before anything is placed or copied; a
// first up that fails after placing releases the room; a reservation raised past every
// node is refused with the nodes' figures; the stack file up deployed is where status
// -json says; and once the last sandbox is destroyed no ssh process of the tool is left.
func TestSwarmSandboxLeavesNothingItDoesNotUse(t *testing.T) {
	requireSwarm(t)
	ctx := context.Background()
	const image = "remo-demo:swe2e-left"
	w := newSwarmWorld(t, image)
	m, nodes, work, home, repo, src := w.m, w.nodes, w.work, w.home, w.repo, w.src
	run, transcript := w.run, w.transcript
	const id = "remo--left"
	tool := filepath.Join(home, ".remo") // every tunnel's control socket is under it
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-f", tool).Run()
		_ = m.RemoveStack(context.Background(), id, time.Minute)
		_ = m.Unplace(context.Background(), id)
		for _, n := range nodes {
			_ = exec.Command("docker", "-H", nodeEngine(n), "volume", "rm", "-f", id+"_db_data").Run()
			_ = exec.Command("docker", "-H", nodeEngine(n), "image", "rm", "-f", image).Run()
		}
		if t.Failed() {
			t.Logf("transcript:\n%s", transcript.String())
		}
	})
	for _, n := range nodes {
		run(repo, 0, "sandbox:initShared", "-engine="+nodeEngine(n), "-from="+src)
	}
	run(repo, 0, "sandbox:create", "left", "-engine="+swarmManager, "-swarm")
	wt := filepath.Join(work, id)
	composeFile := filepath.Join(wt, "docker-compose.sandbox.yml")
	original, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) {
		t.Helper()
		changed := strings.Replace(string(original), old, new, 1)
		if changed == string(original) {
			t.Fatalf("the compose file has no %q", old)
		}
		writeFile(t, composeFile, []byte(changed))
	}
	placed := func() (swarm.Node, bool) {
		n, ok, err := m.Placement(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return n, ok
	}

	// refused before anything is placed or copied
	edit(`    command: ["backend"]`, "    command: [\"backend\"]\n    privileged: true\n    ipc: host")
	out := run(wt, 1, "sandbox:up")
	if !strings.Contains(out, "not deployable on a Swarm") || !strings.Contains(out, "privileged") || strings.Contains(out, "Placing") || strings.Contains(out, "Syncing") {
		t.Errorf("up of a compose file the Swarm cannot run:\n%s", out)
	}
	if n, ok := placed(); ok {
		t.Errorf("the refused sandbox holds room on %s", n.Hostname)
	}

	// a first up that fails after placing releases its room
	writeFile(t, composeFile, original)
	dockerfile := filepath.Join(wt, "demo", "Dockerfile")
	goodDockerfile, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dockerfile, []byte("FROM scratch\nCOPY no-such-file /x\n"))
	out = run(wt, 1, "sandbox:up")
	if !strings.Contains(out, "Placing "+id) || !strings.Contains(out, "Released the room of "+id) {
		t.Errorf("a first up whose build fails:\n%s", out)
	}
	if n, ok := placed(); ok {
		t.Errorf("the failed first up left its room on %s", n.Hostname)
	}

	// placed and running; the stack file it deployed is where status -json says
	writeFile(t, dockerfile, goodDockerfile)
	out = run(wt, 0, "sandbox:up")
	if !strings.Contains(out, "Placing "+id) || !strings.Contains(out, "Startability Gate: PASSED") {
		t.Errorf("up:\n%s", out)
	}
	node, ok := placed()
	if !ok || node.Hostname == "sbx-sw1" {
		t.Fatalf("placed on %+v (%v): the manager sbx-sw1 has no room", node, ok)
	}
	var status struct {
		StackFile string `json:"stack_file"`
	}
	decode(t, run(wt, 0, "sandbox:status", "-json"), &status)
	if b, err := os.ReadFile(status.StackFile); err != nil || !strings.Contains(string(b), "node.hostname == "+node.Hostname) {
		t.Errorf("status -json stack_file %q: %v\n%s", status.StackFile, err, b)
	}

	// a reservation no node can give is refused, with every node's figures
	edit(`    command: ["backend"]`, "    command: [\"backend\"]\n    deploy:\n      resources:\n        reservations:\n          memory: 500G")
	out = run(wt, 1, "sandbox:up")
	for _, want := range []string{"it reserves 512000 MiB", "sbx-sw1 (", "sbx-sw2 (", "sbx-sw3 ("} {
		if !strings.Contains(out, want) {
			t.Errorf("up reserving 500G does not say %q:\n%s", want, out)
		}
	}
	if n, ok := placed(); !ok || n.Hostname != node.Hostname {
		t.Errorf("the refused reservation moved or dropped the placement: %+v %v", n, ok)
	}
	writeFile(t, composeFile, original)

	run(wt, 0, "sandbox:destroy", "-force")
	nothingLeftOn(t, m, node, id)
	if b, _ := exec.Command("pgrep", "-af", tool).Output(); len(b) > 0 {
		t.Errorf("ssh processes of the tool are left after the last destroy:\n%s", b)
	}
}

// removeVolumesOn removes volumes from a node's engine, waiting (up to a minute) for the
// containers of a stack just removed to let go of them: a volume left would hold the
// rows of this run when the next run's instance of that name starts.
func removeVolumesOn(t *testing.T, engine string, names ...string) {
	deadline := time.Now().Add(time.Minute)
	for {
		_ = exec.Command("docker", append([]string{"-H", engine, "volume", "rm", "-f"}, names...)...).Run()
		out, err := exec.Command("docker", "-H", engine, "volume", "ls", "-q").Output()
		left := 0
		for _, v := range strings.Fields(string(out)) {
			if slices.Contains(names, v) {
				left++
			}
		}
		if err == nil && left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("cleanup: volumes still on %s: %s", engine, out)
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// swarmWorld is a test's machine for sandboxes on the Swarm through the targets.
type swarmWorld struct {
	m                          swarm.Manager
	nodes                      []swarm.Node
	work, home, repo, src, bin string
	environ                    []string // the targets' environment, the demo's image named
	git                        func(dir string, args ...string)
	// run runs the compiled targets in dir, wanting an exit code; every run is written
	// to transcript.
	run        func(dir string, wantCode int, args ...string) string
	transcript *strings.Builder
}

// newSwarmWorld fills sbx-sw1, the manager, but for 256 MiB, so that a sandbox's 512 MiB
// land on a worker (whose tunnel is not the manager's); and makes a short work directory
// (the tunnel's control socket path is limited) with the remote example's repository
// files, shared data to copy, and the example's targets compiled.
func newSwarmWorld(t *testing.T, image string) swarmWorld {
	ctx := context.Background()
	w := swarmWorld{m: swarm.Manager{Env: append(os.Environ(), "DOCKER_HOST="+swarmManager)}}
	var err error
	if w.nodes, err = w.m.Nodes(ctx); err != nil {
		t.Fatal(err)
	}
	helper := helperEverywhere(t, w.nodes)
	t.Cleanup(func() { _ = w.m.Unplace(context.Background(), "swe2e-full1") })
	on(t, swarmManager, "service", "create", "--detach", "--no-resolve-image", "--name", swarm.PlaceholderName("swe2e-full1"),
		"--constraint", "node.hostname==sbx-sw1", "--reserve-memory", fmt.Sprint(w.nodes[0].MemBytes-256<<20), helper, "idle")
	waitFor(t, time.Minute, "sbx-sw1 nearly full", func() bool { _, ok, _ := w.m.Placement(ctx, "swe2e-full1"); return ok })
	if w.work, err = os.MkdirTemp("", "sw"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(w.work) })
	w.home, w.repo = filepath.Join(w.work, "home"), filepath.Join(w.work, "repo")
	example := filepath.Join(repoRoot, "examples", "remote")
	copyExample(t, example, w.repo, "docker-compose.sandbox.yml", "demo/Dockerfile", ".gitignore", "go.sum", "site/index.html")
	w.src = filepath.Join(w.work, "data")
	writeFile(t, filepath.Join(w.src, "assets", "a.txt"), []byte("asset one\n"))
	w.bin = filepath.Join(w.work, "bin", "remo")
	compile := exec.Command("go", "tool", "mage", "-compile", w.bin)
	compile.Dir = example
	if out, err := compile.CombinedOutput(); err != nil {
		t.Fatalf("compiling the targets: %v\n%s", err, out)
	}
	w.environ = projectEnv(w.home, "REMO_DEMO_IMAGE="+image)
	w.git = gitRunner(t, w.environ)
	w.git(w.repo, "init", "-q", "-b", "main")
	w.git(w.repo, "add", "-A")
	w.git(w.repo, "commit", "-q", "-m", "remo")
	w.transcript = &strings.Builder{}
	w.run = func(dir string, wantCode int, args ...string) string {
		t.Helper()
		return runBin(t, w.bin, w.environ, w.transcript, dir, wantCode, args...)
	}
	return w
}
