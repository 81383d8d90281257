package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// demo is the shape `docker compose config --format json` gives the demo stack, cut to
// what the renderer reads: a built image, a published port bound to 127.0.0.1, bind
// mounts, a named volume, a health check, restart policies and depends_on.
const demo = `{
  "name": "acme--a",
  "networks": {"default": {"name": "acme--a_default", "ipam": {}}},
  "volumes": {"db_data": {"name": "acme--a_db_data"}},
  "services": {
    "db": {
      "build": {"context": "/src/demo", "dockerfile": "Dockerfile"},
      "image": "acme-demo:dev",
      "command": ["db"],
      "entrypoint": null,
      "healthcheck": {"test": ["CMD", "/demo", "probe", "tcp://127.0.0.1:5432"], "interval": "2s"},
      "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 5432, "published": "25432", "protocol": "tcp"}],
      "volumes": [{"type": "volume", "source": "db_data", "target": "/var/lib/db", "volume": {}}],
      "restart": "unless-stopped",
      "pull_policy": "never",
      "mem_limit": 268435456,
      "mem_reservation": 33554432,
      "networks": {"default": null}
    },
    "backend": {
      "build": {"context": "/src/demo", "dockerfile": "Dockerfile"},
      "command": ["backend"],
      "environment": {"DB_ADDR": "db:5432"},
      "depends_on": {"db": {"condition": "service_healthy", "required": true}},
      "ports": [{"mode": "ingress", "target": 8000, "published": "28000", "protocol": "tcp"}],
      "volumes": [{"type": "bind", "source": "/home/u/.acme/shared/data", "target": "/app/data", "read_only": true, "bind": {"create_host_path": true}}],
      "deploy": {"resources": {"reservations": {"memory": "67108864", "cpus": 0.25}}, "replicas": 2},
      "restart": "on-failure",
      "networks": {"default": {"aliases": ["api"]}}
    },
    "migrate": {
      "image": "acme-demo:dev",
      "command": ["migrate"],
      "depends_on": {"db": {"condition": "service_started"}},
      "container_name": "acme-migrate",
      "restart": "no"
    },
    "worker": {
      "image": "acme-demo:dev",
      "depends_on": {"backend": {"condition": "service_started"}, "migrate": {"condition": "service_completed_successfully"}},
      "expose": ["5003"],
      "x-note": "extensions are the user's own"
    }
  }
}`

func render(t *testing.T, config string) (Rendered, map[string]any) {
	t.Helper()
	r, err := Render([]byte(config), Options{Project: "acme--a", Node: "node-2", Images: map[string]string{"db": "acme-demo:node"}})
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := json.Unmarshal(r.File, &file); err != nil {
		t.Fatalf("the file is not JSON (which the stack loader reads as YAML): %v", err)
	}
	return r, file
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

func TestTheDemoRendersForOneNodeWithoutIPVS(t *testing.T) {
	r, f := render(t, demo)
	if get(f, "version") != "3.8" || get(f, "name") != nil {
		t.Errorf("version %v, name %v: a stack file has a version and no name", get(f, "version"), get(f, "name"))
	}
	for _, svc := range []string{"db", "backend", "migrate", "worker"} {
		d := get(f, "services", svc, "deploy")
		if get(d, "endpoint_mode") != "dnsrr" {
			t.Errorf("%s: endpoint_mode %v: a virtual IP needs IPVS", svc, get(d, "endpoint_mode"))
		}
		if c := get(d, "placement", "constraints"); !reflect.DeepEqual(c, []any{"node.hostname == node-2"}) {
			t.Errorf("%s: placed by %v", svc, c)
		}
		if get(f, "services", svc, "profiles") != nil || get(f, "services", svc, "container_name") != nil || get(f, "services", svc, "pull_policy") != nil {
			t.Errorf("%s keeps a key a stack rejects or ignores: %v", svc, get(f, "services", svc))
		}
	}
	// images: a built service's tag on the node; compose's <project>-<service> without one
	if get(f, "services", "db", "image") != "acme-demo:node" || get(f, "services", "backend", "image") != "acme--a-backend" {
		t.Errorf("images: db %v, backend %v", get(f, "services", "db", "image"), get(f, "services", "backend", "image"))
	}
	if !reflect.DeepEqual(r.Built, map[string]string{"db": "acme-demo:node", "backend": "acme--a-backend"}) {
		t.Errorf("Built = %v", r.Built)
	}
	// ports in host mode, published as numbers
	want := []any{map[string]any{"target": 5432.0, "published": 25432.0, "protocol": "tcp", "mode": "host"}}
	if got := get(f, "services", "db", "ports"); !reflect.DeepEqual(got, want) {
		t.Errorf("db ports %v, want %v", got, want)
	}
	// restart → restart policy
	for svc, cond := range map[string]string{"db": "any", "backend": "on-failure", "migrate": "none", "worker": "none"} {
		if got := get(f, "services", svc, "deploy", "restart_policy", "condition"); got != cond {
			t.Errorf("%s restart condition %v, want %s", svc, got, cond)
		}
	}
	// resources: short forms converted, deploy's kept, but memory reservations are the
	// placeholder's (summed, times replicas), not the services' (counted twice otherwise)
	if get(f, "services", "db", "deploy", "resources", "limits", "memory") != "268435456" || get(f, "services", "db", "deploy", "resources", "reservations") != nil ||
		get(f, "services", "backend", "deploy", "resources", "reservations", "memory") != nil || get(f, "services", "backend", "deploy", "resources", "reservations", "cpus") != 0.25 {
		t.Errorf("resources: db %v, backend %v", get(f, "services", "db", "deploy"), get(f, "services", "backend", "deploy"))
	}
	if mem, err := Reservations([]byte(demo)); err != nil || mem != 2*64<<20+32<<20 {
		t.Errorf("Reservations = %d MiB, %v; want 160 (backend 2 × 64, db 32)", mem>>20, err)
	}
	// mounts, aliases, health check, environment kept
	if v := get(f, "services", "backend", "volumes"); !reflect.DeepEqual(v, []any{map[string]any{"type": "bind", "source": "/home/u/.acme/shared/data", "target": "/app/data", "read_only": true}}) {
		t.Errorf("backend volumes %v", v)
	}
	if v := get(f, "services", "db", "volumes"); !reflect.DeepEqual(v, []any{map[string]any{"type": "volume", "source": "db_data", "target": "/var/lib/db"}}) {
		t.Errorf("db volumes %v", v)
	}
	if get(f, "services", "backend", "networks", "default", "aliases") == nil || get(f, "services", "db", "healthcheck", "interval") != "2s" ||
		get(f, "services", "backend", "environment", "DB_ADDR") != "db:5432" || get(f, "services", "db", "entrypoint") != nil {
		t.Errorf("kept keys lost: %v", get(f, "services"))
	}
	// the project's network is an attachable overlay; its volume is the stack's
	if get(f, "networks", "default", "driver") != "overlay" || get(f, "networks", "default", "name") != nil || get(f, "volumes", "db_data") == nil {
		t.Errorf("networks %v, volumes %v", get(f, "networks"), get(f, "volumes"))
	}
	// depends_on: waves in order, and what each dependency must reach
	if !reflect.DeepEqual(r.Waves, [][]string{{"db"}, {"backend", "migrate"}, {"worker"}}) {
		t.Errorf("Waves = %v", r.Waves)
	}
	if !reflect.DeepEqual(r.Ready, map[string]Condition{"db": Healthy, "backend": Started, "migrate": Completed}) {
		t.Errorf("Ready = %v", r.Ready)
	}
	if get(f, "services", "worker", "depends_on") != nil {
		t.Error("depends_on left in the file: a stack deploy rejects its long form")
	}
	// compose's labels on every container and volume: the tool selects them by these
	if get(f, "services", "worker", "labels", ProjectLabel) != "acme--a" || get(f, "services", "worker", "labels", ServiceLabel) != "worker" ||
		get(f, "volumes", "db_data", "labels", VolumeLabel) != "db_data" || get(f, "volumes", "db_data", "labels", ProjectLabel) != "acme--a" {
		t.Errorf("labels: worker %v, volume %v", get(f, "services", "worker", "labels"), get(f, "volumes", "db_data"))
	}
	// what is left out is said
	ignored := strings.Join(r.Ignored, "\n")
	for _, want := range []string{"db: port 5432: host_ip 127.0.0.1", "migrate: container_name", "worker: expose", "db: pull_policy"} {
		if !strings.Contains(ignored, want) {
			t.Errorf("Ignored does not say %q:\n%s", want, ignored)
		}
	}
}

func TestWhatASwarmCannotDoIsRefusedWithTheReason(t *testing.T) {
	for _, tt := range []struct {
		name, config, want string
	}{
		{"privileged", `{"services": {"a": {"image": "x", "privileged": true}}}`, "a: privileged: a Swarm service cannot run privileged"},
		{"network_mode", `{"services": {"a": {"image": "x", "network_mode": "host"}}}`, "a: network_mode"},
		{"devices", `{"services": {"a": {"image": "x", "devices": ["/dev/fuse"]}}}`, "a: devices"},
		{"an unknown key", `{"services": {"a": {"image": "x", "gpus": "all"}}}`, "a: gpus: not known to the renderer"},
		{"a port range", `{"services": {"a": {"image": "x", "ports": [{"target": 80, "published": "8000-8001"}]}}}`, "a: port 8000-8001"},
		{"no image", `{"services": {"a": {"command": ["x"]}}}`, "a: no image and nothing to build"},
		{"a cycle", `{"services": {"a": {"image": "x", "depends_on": {"b": {}}}, "b": {"image": "x", "depends_on": {"a": {}}}}}`, "depends_on makes a cycle among a, b"},
		{"a missing dependency", `{"services": {"a": {"image": "x", "depends_on": {"gone": {}}}}}`, "a: depends_on gone, which is not in the project"},
		{"file secrets", `{"services": {"a": {"image": "x"}}, "secrets": {"s": {"file": "./s"}}}`, "secrets:"},
		{"a volume named apart", `{"services": {"a": {"image": "x"}}, "volumes": {"d": {"name": "shared-d"}}}`, "volume d: its name shared-d"},
		{"a network driver", `{"services": {"a": {"image": "x"}}, "networks": {"n": {"driver": "macvlan"}}}`, "network n: driver"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render([]byte(tt.config), Options{Project: "acme--a", Node: "n1"})
			var refused *Refused
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a refusal saying %q", err, tt.want)
			}
		})
	}
	// every problem is said at once, not the first only
	_, err := Render([]byte(`{"services": {"a": {"image": "x", "privileged": true, "pid": "host"}}}`), Options{Node: "n1"})
	var refused *Refused
	if !errors.As(err, &refused) || len(refused.Problems) != 2 {
		t.Errorf("two problems: %v", err)
	}
}

func TestExternalNetworksAndVolumesKeepTheirNames(t *testing.T) {
	_, f := render(t, `{"services": {"a": {"image": "x", "networks": {"ext": null}}},
		"networks": {"ext": {"name": "shared-net", "external": true}},
		"volumes": {"cache": {"name": "team-cache", "external": true}}}`)
	if get(f, "networks", "ext", "name") != "shared-net" || get(f, "networks", "ext", "external") != true ||
		get(f, "volumes", "cache", "name") != "team-cache" {
		t.Errorf("networks %v, volumes %v", get(f, "networks"), get(f, "volumes"))
	}
}

// Every key of the refused and ignored tables, one service each: a refused key is named
// with its reason, an ignored one is left out of the file and said.
func TestEveryRefusedAndIgnoredKeyIsSaid(t *testing.T) {
	for key, why := range refused {
		config := fmt.Sprintf(`{"services": {"a": {"image": "x", %q: true}}}`, key)
		_, err := Render([]byte(config), Options{Project: "acme--a", Node: "n1"})
		if err == nil || !strings.Contains(err.Error(), "a: "+key+": "+why) {
			t.Errorf("%s: err = %v, want the refusal with its reason", key, err)
		}
	}
	for key, why := range ignored {
		config := fmt.Sprintf(`{"services": {"a": {"image": "x", %q: "v"}}}`, key)
		r, f := render(t, config)
		if get(f, "services", "a", key) != nil || !strings.Contains(strings.Join(r.Ignored, "\n"), "a: "+key+" ("+why+")") {
			t.Errorf("%s: kept %v; ignored %v", key, get(f, "services", "a", key), r.Ignored)
		}
	}
	for name, tt := range map[string]struct{ config, want string }{
		"file configs":        {`{"services": {"a": {"image": "x"}}, "configs": {"c": {"file": "./c"}}}`, "configs: not rendered"},
		"a volume type":       {`{"services": {"a": {"image": "x", "volumes": [{"type": "npipe", "source": "p", "target": "/p"}]}}}`, "a: volume /p: type npipe is not rendered"},
		"a condition unknown": {`{"services": {"a": {"image": "x", "depends_on": {"b": {"condition": "service_ready"}}}, "b": {"image": "x"}}}`, "a: depends_on b: condition service_ready is not known"},
	} {
		if _, err := Render([]byte(tt.config), Options{Project: "acme--a", Node: "n1"}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tt.want)
		}
	}
}

// With a registry, a built image is named there, also by a service that runs it without
// building it; an image nothing builds is left as it is.
func TestARegistryNamesTheBuiltImages(t *testing.T) {
	r, err := Render([]byte(demo), Options{Project: "acme--a", Node: "n1", Registry: "reg.example:5000/team"})
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(r.File, &f); err != nil {
		t.Fatal(err)
	}
	if get(f, "services", "db", "image") != "reg.example:5000/team/acme-demo:dev" || get(f, "services", "migrate", "image") != "reg.example:5000/team/acme-demo:dev" || get(f, "services", "backend", "image") != "reg.example:5000/team/acme--a-backend" ||
		r.Pushed["acme-demo:dev"] != "reg.example:5000/team/acme-demo:dev" || r.Registry != "reg.example:5000/team" {
		t.Errorf("images: db %v, migrate %v; pushed %v", get(f, "services", "db", "image"), get(f, "services", "migrate", "image"), r.Pushed)
	}
}
