//go:build !windows

package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/dockerapi/fakeengine"
)

// fakeManager puts a `docker` on PATH that answers as a manager of two nodes would: n1
// (4 GiB, the placeholder of acme--a reserving 1 GiB runs there) and n2 (drained). The
// placeholder of a new instance stays pending with the scheduler's reason. Every call is
// appended to the returned file.
func fakeManager(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$*" >> '` + calls + `'
case "$1 $2" in
"node ls") echo n1; echo n2 ;;
"node inspect")
  echo '{"ID":"n1","Spec":{"Role":"manager","Availability":"active"},"Description":{"Hostname":"host-1","Resources":{"MemoryBytes":4294967296}},"Status":{"State":"ready","Addr":"10.0.0.1"}}'
  echo '{"ID":"n2","Spec":{"Role":"worker","Availability":"drain"},"Description":{"Hostname":"host-2","Resources":{"MemoryBytes":4294967296}},"Status":{"State":"ready","Addr":"10.0.0.2"}}' ;;
"service ls") echo s1 ;;
"service ps")
  for a in "$@"; do last="$a"; done
  case "$last" in
  acme--new-placement) echo tnew ;;
  acme--bad-placement) grep -q "service create" '` + calls + `' && echo tbad ;;
  acme--fresh-placement) grep -q "service create" '` + calls + `' && echo tfresh ;;
  acme--kept-placement) echo tkeptold; echo tkeptnew ;;
  acme--a-placement|s1) echo ta ;;
  esac ;;
"service create")
  case "$*" in *acme--kept-placement*) echo "service acme--kept-placement already exists" >&2; exit 1 ;; esac ;;
"service inspect")
  echo '{"Name":"acme--a_db","Mode":{"Replicated":{"Replicas":2}},"TaskTemplate":{"ContainerSpec":{"Mounts":[{"Type":"volume","Source":"acme--a_db_data"}]}}}'
  echo '{"Name":"acme--a_web","Mode":{"Replicated":{"Replicas":1}},"TaskTemplate":{"ContainerSpec":{"Mounts":[{"Type":"bind","Source":"acme--a_db_data"}]}}}'
  echo '{"Name":"acme--a_cache","Mode":{"Replicated":{"Replicas":1}},"TaskTemplate":{"ContainerSpec":{"Mounts":[{"Type":"volume","Source":"acme--a_cache"}]}}}' ;;
"inspect --type")
  for a in "$@"; do
  case "$a" in
  tbad) echo '{"ID":"tbad","NodeID":"n1","Spec":{},"Status":{"State":"rejected","Err":"No such image: helper:1"}}' ;;
  tnew) echo '{"ID":"tnew","NodeID":"","Spec":{"Resources":{"Reservations":{"MemoryBytes":8589934592}}},"Status":{"State":"pending","Err":"no suitable node (insufficient resources on 2 nodes)"}}' ;;
  tfresh) echo '{"ID":"tfresh","NodeID":"n1","Spec":{},"Status":{"State":"running"}}' ;;
  tkeptold) echo '{"ID":"tkeptold","NodeID":"n2","CreatedAt":"2026-01-01T00:00:00Z","Spec":{},"Status":{"State":"running"}}' ;;
  tkeptnew) echo '{"ID":"tkeptnew","NodeID":"","CreatedAt":"2026-01-02T00:00:00Z","Spec":{},"Status":{"State":"pending","Err":"no suitable node (1 node not available for new tasks)"}}' ;;
  ta) echo '{"ID":"ta","NodeID":"n1","Spec":{"Resources":{"Reservations":{"MemoryBytes":1073741824}},"ContainerSpec":{"Labels":{"sandbox.instance":"acme--a"}}},"Status":{"State":"running"}}' ;;
  esac
  done ;;
esac
exit 0
`
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":/usr/bin:/bin")
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:9") // not a socket: every question goes to the command
	return calls
}

// fakeManagerSocket serves, on a unix socket, the manager of fakeManager as the Engine
// API describes it: its nodes, the tasks of a service (an unknown service is a 404), the
// running tasks and the services of a stack.
func fakeManagerSocket(t *testing.T) string {
	t.Helper()
	const ta = `{"ID":"ta","NodeID":"n1","Spec":{"Resources":{"Reservations":{"MemoryBytes":1073741824}},"ContainerSpec":{"Labels":{"sandbox.instance":"acme--a"}}},"Status":{"State":"running"}}`
	return fakeengine.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f map[string][]string
		_ = json.Unmarshal([]byte(r.URL.Query().Get("filters")), &f)
		switch {
		case r.URL.Path == "/nodes":
			fmt.Fprint(w, `[{"ID":"n1","Spec":{"Role":"manager","Availability":"active"},"Description":{"Hostname":"host-1","Resources":{"MemoryBytes":4294967296}},"Status":{"State":"ready","Addr":"10.0.0.1"}},`+
				`{"ID":"n2","Spec":{"Role":"worker","Availability":"drain"},"Description":{"Hostname":"host-2","Resources":{"MemoryBytes":4294967296}},"Status":{"State":"ready","Addr":"10.0.0.2"}}]`)
		case r.URL.Path == "/tasks" && len(f["service"]) == 1 && f["service"][0] != "acme--a-placement":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"message":"service %s not found"}`, f["service"][0])
		case r.URL.Path == "/tasks":
			fmt.Fprint(w, "["+ta+"]")
		case r.URL.Path == "/services" && strings.Join(f["label"], "") == "com.docker.stack.namespace=acme--a":
			fmt.Fprint(w, `[{"Spec":{"Name":"acme--a_db"}},{"Spec":{"Name":"acme--a_web"}}]`)
		default:
			http.NotFound(w, r)
		}
	}))
}

// Reached through a socket (a tunnel's), the manager is asked through the API, one
// request a question, and its answers read as the command line's are.
func TestThroughItsSocketTheManagerIsAskedWithoutTheCommand(t *testing.T) {
	calls := fakeManager(t)
	m := Manager{Env: []string{"PATH=" + os.Getenv("PATH"), "DOCKER_HOST=unix://" + fakeManagerSocket(t)}}
	ctx := context.Background()
	nodes, err := m.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].Hostname != "host-1" || nodes[0].Reserved != 1<<30 || strings.Join(nodes[0].Instances, "") != "acme--a" ||
		nodes[1].Availability != "drain" || nodes[1].Reserved != 0 {
		t.Errorf("Nodes = %+v, %v", nodes, err)
	}
	if n, placed, err := m.Placement(ctx, "acme--a"); err != nil || !placed || n.Hostname != "host-1" || n.Addr != "10.0.0.1" {
		t.Errorf("Placement(acme--a) = %+v, %v, %v; want host-1", n, placed, err)
	}
	if _, placed, err := m.Placement(ctx, "acme--none"); err != nil || placed {
		t.Errorf("Placement of an instance without a placeholder = %v, %v; want not placed, no error", placed, err)
	}
	if svcs, err := m.Services(ctx, "acme--a"); err != nil || strings.Join(svcs, " ") != "db web" {
		t.Errorf("Services = %v, %v", svcs, err)
	}
	if b, _ := os.ReadFile(calls); len(b) > 0 {
		t.Errorf("the docker command was run:\n%s", b)
	}
}

func TestNodesCountWhatTheirTasksReserve(t *testing.T) {
	fakeManager(t)
	nodes, err := Manager{}.Nodes(context.Background())
	if err != nil || len(nodes) != 2 {
		t.Fatalf("Nodes = %+v, %v", nodes, err)
	}
	n1, n2 := nodes[0], nodes[1]
	if n1.Hostname != "host-1" || n1.Addr != "10.0.0.1" || n1.Reserved != 1<<30 || n1.Free() != 3<<30 || len(n1.Instances) != 1 || n1.Instances[0] != "acme--a" {
		t.Errorf("host-1: %+v", n1)
	}
	if n2.Availability != "drain" || n2.Reserved != 0 || len(n2.Instances) != 0 {
		t.Errorf("host-2: %+v", n2)
	}
}

func TestAPlacedInstanceKeepsItsNode(t *testing.T) {
	calls := fakeManager(t)
	n, err := Manager{}.Place(context.Background(), "acme--a", 1<<30, "helper:1", "", time.Minute)
	if err != nil || n.Hostname != "host-1" {
		t.Fatalf("Place = %+v, %v", n, err)
	}
	if b, _ := os.ReadFile(calls); strings.Contains(string(b), "service create") {
		t.Errorf("a second placeholder was created:\n%s", b)
	}
}

func TestNoRoomSaysEachNodesFiguresAndRemovesThePlaceholder(t *testing.T) {
	calls := fakeManager(t)
	_, err := Manager{Poll: time.Millisecond}.Place(context.Background(), "acme--new", 8<<30, "helper:1", "", time.Minute)
	if !errors.Is(err, ErrNoRoom) {
		t.Fatalf("err = %v, want no room", err)
	}
	for _, want := range []string{"it reserves 8192 MiB", "host-1 (ready, active): 3072 MiB free of 4096 MiB", "host-2 (ready, drain)", "insufficient resources on 2 nodes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	b, _ := os.ReadFile(calls)
	log := string(b)
	if !strings.Contains(log, "service create --detach --no-resolve-image --name acme--new-placement") || !strings.Contains(log, "--reserve-memory 8589934592") ||
		!strings.Contains(log, "service rm acme--new-placement") {
		t.Errorf("want the placeholder created with its reservation, then removed:\n%s", log)
	}
}

func TestAPlaceholderThatCannotStartIsSaidAtOnce(t *testing.T) {
	calls := fakeManager(t)
	_, err := Manager{Poll: time.Millisecond}.Place(context.Background(), "acme--bad", 1<<30, "helper:1", "", time.Minute)
	if err == nil || errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "could not start on host-1: No such image: helper:1") {
		t.Errorf("err = %v, want the node's refusal", err)
	}
	if b, _ := os.ReadFile(calls); !strings.Contains(string(b), "service rm acme--bad-placement") {
		t.Errorf("the placeholder was left:\n%s", b)
	}
}

func TestANewPlacementIsKeptOnItsNode(t *testing.T) {
	calls := fakeManager(t)
	n, err := Manager{Poll: time.Millisecond}.Place(context.Background(), "acme--fresh", 1<<30, "helper:1", "", time.Minute)
	if err != nil || n.Hostname != "host-1" {
		t.Fatalf("Place = %+v, %v", n, err)
	}
	if b, _ := os.ReadFile(calls); !strings.Contains(string(b), "service update --detach --constraint-add node.hostname==host-1 acme--fresh-placement") {
		t.Errorf("the placeholder was not kept on host-1 (a drain would move its room):\n%s", b)
	}
}

// The placeholder of an instance whose node is drained waits there: its newest task is
// pending (an older one ran); placing it again on that node waits and never removes it.
func TestAKeptPlaceholderIsNeverRemoved(t *testing.T) {
	calls := fakeManager(t)
	_, placed, err := Manager{}.Placement(context.Background(), "acme--kept")
	if err != nil || placed {
		t.Errorf("Placement = %v, %v: the newest task is pending, not the older running one", placed, err)
	}
	_, err = Manager{Poll: time.Millisecond}.Place(context.Background(), "acme--kept", 1<<30, "helper:1", "host-2", 50*time.Millisecond)
	if err == nil {
		t.Error("Place on a drained node succeeded")
	}
	if b, _ := os.ReadFile(calls); strings.Contains(string(b), "service rm") || !strings.Contains(string(b), "--constraint node.hostname==host-2") {
		t.Errorf("want the placeholder asked for on host-2 and never removed:\n%s", b)
	}
}

func TestServicesMountingNamesThoseOfTheVolumesWithTheirReplicas(t *testing.T) {
	calls := fakeManager(t)
	specs, err := Manager{}.ServicesMounting(context.Background(), "acme--a", []string{"acme--a_db_data"})
	if err != nil || strings.Join(specs, " ") != "acme--a_db=2" {
		t.Errorf("ServicesMounting = %v, %v; want only the service with a volume mount of it", specs, err)
	}
	if err := (Manager{}).Scale(context.Background(), "acme--a_db=0"); err != nil {
		t.Fatal(err)
	}
	if err := (Manager{}).AwaitStopped(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(calls); !strings.Contains(string(b), "service ps -q --filter desired-state=running --filter desired-state=remove acme--a_db") ||
		!strings.Contains(string(b), "service ls -q --filter label=com.docker.stack.namespace=acme--a") ||
		!strings.Contains(string(b), "service scale --detach acme--a_db=0") {
		t.Errorf("calls:\n%s", b)
	}
}

func TestOnlyIdleServicesAreStartedAgain(t *testing.T) {
	calls := fakeManager(t)
	replaced := map[string]string{}
	if err := (Manager{}).restart(context.Background(), nil, "acme--a", []string{"db", "web"}, map[string]bool{"db": true}, replaced); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(calls)
	if !strings.Contains(string(b), "service update --detach --force acme--a_db") || strings.Contains(string(b), "acme--a_web") {
		t.Errorf("want only db forced:\n%s", b)
	}
	if _, noted := replaced["db"]; !noted {
		t.Error("db's task before the restart was not noted: a wait could take it for the new one")
	}
}

// A placed instance whose compose file now reserves another figure gets it: its
// placeholder is updated where its node has room beside what it already holds, and
// refused with every node's figures where it has not (the old reservation then stays).
func TestAChangedReservationIsReservedAgainOrRefusedWithEachNodesFigures(t *testing.T) {
	calls := fakeManager(t)
	m := Manager{Poll: time.Millisecond}
	ctx := context.Background()
	log := func() string { b, _ := os.ReadFile(calls); return string(b) }
	if n, err := m.Reserve(ctx, "acme--a", 1<<30, time.Minute); err != nil || n.Hostname != "host-1" || strings.Contains(log(), "service update") {
		t.Errorf("the same reservation: %+v, %v; want host-1 and no update:\n%s", n, err, log())
	}
	_, err := m.Reserve(ctx, "acme--a", 8<<30, time.Minute)
	if !errors.Is(err, ErrNoRoom) {
		t.Fatalf("8 GiB on a node of 4: %v, want no room", err)
	}
	for _, want := range []string{"it reserves 8192 MiB", "host-1 (ready, active): 3072 MiB free of 4096 MiB", "host-2 (ready, drain)", "1024 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	if strings.Contains(log(), "service update") || strings.Contains(log(), "service rm") {
		t.Errorf("a refused reservation changed the placeholder:\n%s", log())
	}
	if n, err := m.Reserve(ctx, "acme--a", 4<<30, time.Minute); err != nil || n.Hostname != "host-1" {
		t.Fatalf("4 GiB where 3 are free beside its 1: %+v, %v", n, err)
	}
	if !strings.Contains(log(), "service update --detach --reserve-memory 4294967296 acme--a-placement") {
		t.Errorf("the placeholder was not given its new reservation:\n%s", log())
	}
}
