package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/hooks"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/snapshot"
	"github.com/ktrdr/sandbox/pkg/stats"
	"github.com/ktrdr/sandbox/pkg/swarm"
)

func TestANodeIsReachedWithTheManagersUserAndPort(t *testing.T) {
	for manager, want := range map[string]string{
		"ssh://root@10.0.0.1":      "ssh://root@10.0.0.2",
		"ssh://me@manager:2222":    "ssh://me@10.0.0.2:2222",
		"ssh://manager.example.io": "ssh://10.0.0.2",
	} {
		if got := nodeEndpoint(manager, "10.0.0.2"); got != want {
			t.Errorf("nodeEndpoint(%s) = %s, want %s", manager, got, want)
		}
	}
}

// The configuration asked while up prepares is read twice on a Swarm (for the bind mounts
// and for the stack file): the second read must not wait for an answer already taken.
func TestTheEarlyComposeConfigCanBeReadTwice(t *testing.T) {
	w := newWorld(t)
	config := w.at(w.repo).configAsync(context.Background(), compose.Project{Name: "acme--a"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err1 := config()
		_, err2 := config()
		if err1 == nil || err1 != err2 {
			t.Errorf("two reads: %v, %v", err1, err2)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the second read waits forever")
	}
}

// up on a placed instance asks compose for its configuration before the tunnel to its
// node opens, as it would ask it through the tunnel, unless a pre-up hook or secrets
// could still change the project.
func TestASwarmUpAsksComposeEarlyOnlyWhenNothingCanChangeTheProject(t *testing.T) {
	w := newWorld(t)
	e := w.at(w.repo)
	w.docker.config = []byte(`{"services": {}}`)
	e.Config.Secrets, e.Config.Hooks = nil, nil
	in := &Instance{ID: "acme--a", Dir: w.repo, Engine: engine.Engine{Endpoint: "ssh://root@10.0.0.2",
		Swarm: &engine.Swarm{Manager: "ssh://root@10.0.0.1", Node: "node-2"}}}
	early := e.earlyConfig(context.Background(), config.KindSandbox, in, StartOptions{})
	if early == nil {
		t.Fatal("no early configuration with nothing to change the project")
	}
	if _, err := early(); err != nil {
		t.Fatal(err)
	}
	want := "config acme--a DOCKER_HOST=" + e.Tunnel(in.Engine).DockerHost()
	if got := w.docker.called("config"); len(got) != 1 || got[0] != want {
		t.Errorf("compose was asked %q, want %q (the project up gives compose through the tunnel)", got, want)
	}
	e.Config.Secrets = []config.SecretField{{Label: "db_password", Env: "DB_PASSWORD"}}
	if e.earlyConfig(context.Background(), config.KindSandbox, in, StartOptions{}) != nil {
		t.Error("asked early although secrets are still to be fetched")
	}
	if e.earlyConfig(context.Background(), config.KindSandbox, in, StartOptions{NoSecrets: true}) == nil {
		t.Error("not asked early with -noSecrets")
	}
	e.Config.Hooks = []hooks.Hook{{Event: hooks.PreUp, Name: "gen", Command: "true"}}
	if e.earlyConfig(context.Background(), config.KindSandbox, in, StartOptions{NoSecrets: true}) != nil {
		t.Error("asked early although a pre-up hook runs first")
	}
}

// What an instance reserves on a Swarm: its compose file's reservations first, else the
// most it used when it last ran, else a default; never under the Swarm's 4 MiB floor.
func TestTheReservationComesFromTheComposeFileThenTheLastRun(t *testing.T) {
	w := newWorld(t)
	e := w.at(w.repo)
	lc := e.Config.Lifecycle(config.KindSandbox)
	in := &Instance{ID: "acme--a", Dir: w.repo}
	if mem, why := e.reservation(in, e.composeConfig(context.Background(), in, lc)); mem != defaultReservation || !strings.Contains(why, "nothing says") {
		t.Errorf("with nothing known: %d (%s)", mem, why)
	}
	if err := e.usageHistory().Record(map[string]stats.Usage{"acme--a": {Containers: 2, MemBytes: 1 << 20}}, e.Now()); err != nil {
		t.Fatal(err)
	}
	if mem, why := e.reservation(in, e.composeConfig(context.Background(), in, lc)); mem != minReservation || !strings.Contains(why, "last ran") {
		t.Errorf("after a run that used 1 MiB: %d (%s), want the 4 MiB floor", mem, why)
	}
	w.docker.config = []byte(`{"services": {"db": {"mem_reservation": 33554432}, "web": {"deploy": {"replicas": 2, "resources": {"reservations": {"memory": "16777216"}}}}}}`)
	if mem, why := e.reservation(in, e.composeConfig(context.Background(), in, lc)); mem != 64<<20 || !strings.Contains(why, "compose file") {
		t.Errorf("with reservations in the compose file: %d MiB (%s), want 32 + 2 × 16", mem>>20, why)
	}
}

// doctor counts the networks an engine can still make (the limit users meet after 20
// to 30 stacks), and judges a Swarm node by whether instances of ours wait on it.
func TestDoctorCountsNetworksAndJudgesNodesByWhatTheyHold(t *testing.T) {
	w := newWorld(t)
	e := w.at(w.repo)
	netFinding := func() Finding {
		for _, f := range e.Doctor(context.Background()).Findings {
			if f.Check == "engine networks" {
				return f
			}
		}
		t.Fatal("no engine networks finding")
		return Finding{}
	}
	if f := netFinding(); !f.OK || f.Detail != "room for 25 more networks of 31 (each stack makes at least one)" {
		t.Errorf("with room: %+v", f)
	}
	w.docker.networksFree = 2
	if f := netFinding(); f.OK || !strings.Contains(f.Fix.Text, "default-address-pools") {
		t.Errorf("with 2 left: %+v", f)
	}

	drained := swarm.Node{Hostname: "n2", Role: "worker", State: "ready", Availability: "drain", MemBytes: 4 << 30, Reserved: 1 << 30}
	if f := nodeFinding("Swarm m", drained, nil); !f.OK || !strings.Contains(f.Detail, "worker, ready, drain; memory 1.0 GB reserved of 4.0 GB (3.0 GB free); no sandbox") {
		t.Errorf("a drained node holding nothing: %+v", f)
	}
	if f := nodeFinding("Swarm m", drained, []string{"acme--a"}); f.OK || !strings.Contains(f.Fix.Text, "docker node update --availability active n2") {
		t.Errorf("a drained node holding acme--a: %+v", f)
	}
	down := swarm.Node{Hostname: "n3", State: "down", Availability: "active"}
	if f := nodeFinding("Swarm m", down, []string{"acme--b"}); f.OK || !strings.Contains(f.Fix.Text, "the data of acme--b is there") {
		t.Errorf("a node down holding acme--b: %+v", f)
	}
}

// On a Swarm the services that mount nothing of the checkout are deployed while it is
// copied to the node; a wave with one that does waits for the copy (and its failure).
func TestOnlyAWaveThatMountsTheCheckoutWaitsForItsCopy(t *testing.T) {
	copies := 0
	copyErr := errors.New("copy failed")
	before := afterCopy("/work/acme--a", []compose.Bind{
		{Service: "web", Source: "/work/acme--a/site"},
		{Service: "worker", Source: "/home/u/.acme/shared/data"},
	}, func() error { copies++; return copyErr })
	for _, wave := range [][]string{{"db"}, {"worker", "cache"}} {
		if err := before(wave); err != nil || copies != 0 {
			t.Errorf("wave %v waited for the copy (%d, %v)", wave, copies, err)
		}
	}
	if err := before([]string{"api", "web"}); !errors.Is(err, copyErr) || copies != 1 {
		t.Errorf("the wave with web: %v after %d waits, want the copy's failure", err, copies)
	}
}

// A compose file the Swarm cannot run is refused before anything is asked of the Swarm:
// no placeholder reserves memory for it, nothing is copied to a node. The manager here
// does not even answer; the refusal must come first.
func TestASwarmUpRefusesWhatItCannotDeployBeforePlacing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	withDeadSSH(t, w)
	res := w.create("far")
	e := w.at(res.Instance.Dir)
	var out strings.Builder
	e.Out = &out
	onSwarm := engine.Engine{Endpoint: downEngine, Swarm: &engine.Swarm{Manager: downEngine}}
	if err := e.records().Set("acme--far", onSwarm); err != nil {
		t.Fatal(err)
	}
	w.docker.config = []byte(`{"services": {"db": {"image": "postgres", "ipc": "host"}, "web": {"image": "web", "privileged": true}}}`)
	_, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true, NoSecrets: true})
	if err == nil || !strings.Contains(err.Error(), "not deployable on a Swarm") || !strings.Contains(err.Error(), "privileged") || !strings.Contains(err.Error(), "ipc") {
		t.Fatalf("up = %v, want the renderer's refusal naming privileged and ipc", err)
	}
	if strings.Contains(out.String(), "Placing") || strings.Contains(out.String(), "Syncing") {
		t.Errorf("placed or synced before refusing:\n%s", out.String())
	}
	if got, _ := e.EngineOf("acme--far"); got.Placed() {
		t.Errorf("recorded as placed: %+v", got.Swarm)
	}
}

// withLiveSSH puts on PATH an ssh whose every master answers (as `ssh -O check` does for
// a live one) and whose other commands succeed; each call is appended to the returned file.
func withLiveSSH(t *testing.T, w *world) string {
	t.Helper()
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	mustWrite(t, filepath.Join(bin, "ssh"), "#!/bin/sh\necho \"$*\" >> '"+calls+"'\ncase \"$*\" in *'-O check'*) echo 'Master running (pid=999999)' >&2 ;; esac\nexit 0\n")
	if err := os.Chmod(filepath.Join(bin, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := bin + ":" + os.Getenv("PATH")
	t.Setenv("PATH", path)
	w.env.Vars = []string{"PATH=" + path}
	return calls
}

// When the last instance on a Swarm stops, the tunnel to its manager (which up, down and
// destroy speak through) closes with the one to its node: nothing of the tool stays.
func TestReleasingTheLastInstanceOnASwarmClosesTheManagersTunnelToo(t *testing.T) {
	w := newWorld(t)
	withLiveSSH(t, w)
	e := w.at(w.repo)
	const manager = "ssh://root@10.0.0.1"
	in := &Instance{ID: "acme--a", Dir: w.repo, Engine: engine.Engine{Endpoint: "ssh://root@10.0.0.2", Swarm: &engine.Swarm{Manager: manager, Node: "node-2"}}}
	mustMkdir(t, e.StateDir())
	if err := e.records().Set(in.ID, in.Engine); err != nil {
		t.Fatal(err)
	}
	tunnels := map[string]engine.Tunnel{"node": e.Tunnel(in.Engine), "manager": e.Tunnel(engine.Engine{Endpoint: manager})}
	for _, tun := range tunnels {
		mustWrite(t, filepath.Join(tun.Dir, "ctl"), "")
	}
	e.releaseEngine(context.Background(), in)
	for which, tun := range tunnels {
		if _, alive := tun.Alive(context.Background()); alive {
			t.Errorf("the tunnel to the %s (%s) is left open", which, tun.Engine.Endpoint)
		}
	}
}

// The stack file up deploys is kept where status says (a user compares it with what
// docker stack deploy would make of the compose file), and destroy takes it away.
func TestTheDeployedStackFileIsKeptWhereStatusSays(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	res := w.create("a")
	e := w.at(res.Instance.Dir)
	in := &Instance{ID: "acme--a", Engine: engine.Engine{Endpoint: "ssh://root@10.0.0.2", Swarm: &engine.Swarm{Manager: "ssh://root@10.0.0.1", Node: "node-2"}}}
	path, err := e.keepStackFile(in, []byte("{\"services\": {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "{\"services\": {}}\n" {
		t.Fatalf("the stack file at %s: %q %v", path, b, err)
	}
	if !strings.HasPrefix(path, e.StateDir()) {
		t.Errorf("the stack file %s is not under the tool's state %s", path, e.StateDir())
	}
	rep, err := e.Status(ctx, config.KindSandbox)
	if err != nil || rep.StackFile != "" {
		t.Errorf("status of a local instance names a stack file: %q %v", rep.StackFile, err)
	}
	withDeadSSH(t, w)
	if err := e.records().Set(in.ID, in.Engine); err != nil {
		t.Fatal(err)
	}
	if rep, _ := e.Status(ctx, config.KindSandbox); rep.StackFile != path {
		t.Errorf("status -json stack_file = %q, want %s", rep.StackFile, path)
	}
	if err := e.records().Set(in.ID, engine.Engine{}); err != nil { // local again: destroy runs here
		t.Fatal(err)
	}
	if _, err := e.Destroy(ctx, config.KindSandbox, DestroyOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("destroy left the stack file: %v", err)
	}
}

// On a Swarm of arm64 and amd64 nodes the placeholder must start on whichever node the
// scheduler picks: each node has the helper built for its own platform, under the one
// name every placeholder runs (nothing is pulled, and a node of the other platform
// could not run the first's).
func TestThePlaceholderRunsOnANodeOfEitherPlatform(t *testing.T) {
	w := newWorld(t)
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	node := func(id, host, addr string) string {
		return `{"ID":"` + id + `","Spec":{"Role":"worker","Availability":"active"},"Description":{"Hostname":"` + host + `","Resources":{"MemoryBytes":4294967296}},"Status":{"State":"ready","Addr":"` + addr + `"}}`
	}
	mustWrite(t, filepath.Join(bin, "docker"), `#!/bin/sh
echo "$DOCKER_HOST $*" >> '`+calls+`'
case "$1 $2" in
"node ls") echo n1; echo n2 ;;
"node inspect") echo '`+node("n1", "arm-1", "10.0.0.1")+`'; echo '`+node("n2", "amd-2", "10.0.0.2")+`' ;;
"info --format") case "$DOCKER_HOST" in *10.0.0.1*) arch=aarch64 ;; *) arch=x86_64 ;; esac; printf 'linux\n%s\n4294967296\n2\nDebian\n' $arch ;;
esac
exit 0
`)
	if err := os.Chmod(filepath.Join(bin, "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := bin + ":" + os.Getenv("PATH")
	t.Setenv("PATH", path)
	w.env.Vars = []string{"PATH=" + path}
	e := w.at(w.repo)
	m := swarm.Manager{Env: []string{"PATH=" + path, "DOCKER_HOST=tcp://127.0.0.1:9"}}
	image, err := e.placeholderImage(context.Background(), m, "ssh://root@10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(calls)
	for addr, p := range map[string]string{"10.0.0.1": "linux/arm64", "10.0.0.2": "linux/amd64"} {
		parsed, err := platform.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		own := snapshot.HelperImage(parsed)
		if image != own && !strings.Contains(string(b), "ssh://root@"+addr+" image tag "+own+" "+image) {
			t.Errorf("the placeholder runs %s, which node %s (%s) does not have: its helper is %s\n%s", image, addr, p, own, b)
		}
	}
}

// The renderer's refusal and the placement's reservation read one answer of compose: a
// first up on a Swarm asks for the configuration once.
func TestTheRefusalAndTheReservationShareOneComposeConfig(t *testing.T) {
	w := newWorld(t)
	e := w.at(w.repo)
	in := &Instance{ID: "acme--a", Dir: w.repo, Engine: engine.Engine{Endpoint: "ssh://m", Swarm: &engine.Swarm{Manager: "ssh://m"}}}
	w.docker.config = []byte(`{"services": {"web": {"image": "web:1", "mem_reservation": 33554432}}}`)
	configOf := e.composeConfig(context.Background(), in, e.Config.Lifecycle(config.KindSandbox))
	if err := refuseUndeployable(in, configOf); err != nil {
		t.Fatal(err)
	}
	if mem, _ := e.reservation(in, configOf); mem != 32<<20 {
		t.Errorf("reservation %d MiB", mem>>20)
	}
	if asked := w.docker.called("config "); len(asked) != 1 {
		t.Errorf("compose config asked %d times: %v", len(asked), asked)
	}
}
