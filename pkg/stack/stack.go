// Package stack renders a compose project, as `docker compose config --format json`
// resolves it (variables interpolated, .env read, profiles chosen), into a file that
// `docker stack deploy` accepts, for an instance that lives on one node of a Docker Swarm.
//
// What a stack deploy does not do, the tool does around this file: it builds the images
// on the chosen node (Images names the tags), deploys the services in the order their
// depends_on conditions ask and waits for each (Waves and Ready), and syncs bind-mounted
// paths to the node. What the file must say for a Swarm without IPVS (no routing mesh):
// every port published in host mode on the node, and DNS round robin instead of a
// virtual IP for service discovery.
package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Options are what the file needs beyond the compose project.
type Options struct {
	// Project names the compose project (the instance id): images compose would build
	// without a tag are named <project>-<service>, as compose names them.
	Project string
	// Node is the hostname of the node every service is placed on.
	Node string
	// Images overrides a service's image tag (a built service's tag on the node).
	Images map[string]string
	// Registry, when set, is where built images are pushed: the stack names them there
	// (Pushed), and the Swarm resolves their digests and lets nodes pull them.
	Registry string
}

// Condition is what a service must reach before the services that depend on it deploy.
type Condition string

const (
	Started   Condition = "started"   // its task is running
	Healthy   Condition = "healthy"   // its task is running and healthy
	Completed Condition = "completed" // its task ran to a successful end
)

// Rendered is the stack file and how to deploy it.
type Rendered struct {
	File []byte
	// Waves are the services in deploy order: a wave is deployed (with every earlier
	// one) once each service of the earlier waves has reached its Ready condition.
	Waves [][]string
	// Ready is the condition that later services wait for, for each service some other
	// depends on.
	Ready map[string]Condition
	// Ignored lists what the file leaves out, one line each, for the user to read.
	Ignored []string
	// Built are the services whose image the tool builds on the node, with their tags.
	Built map[string]string
	// Pushed are the built tags and what the stack names them by in the registry
	// (Options.Registry); empty without one.
	Pushed map[string]string
	// Registry is Options.Registry: a deploy asks it for the images' digests.
	Registry string
}

// Refused is the error for a project that cannot be rendered: one problem a line.
type Refused struct{ Problems []string }

func (r *Refused) Error() string {
	return "not deployable on a Swarm:\n  " + strings.Join(r.Problems, "\n  ")
}

// project is the part of compose's resolved configuration the renderer reads.
type project struct {
	Services map[string]map[string]json.RawMessage `json:"services"`
	Networks map[string]map[string]json.RawMessage `json:"networks"`
	Volumes  map[string]map[string]json.RawMessage `json:"volumes"`
	Secrets  json.RawMessage                       `json:"secrets"`
	Configs  json.RawMessage                       `json:"configs"`
}

// Service keys, by what the renderer does with them.
var (
	// kept as compose wrote them: the stack format reads them the same way
	kept = set("command", "entrypoint", "environment", "healthcheck", "labels", "working_dir", "user",
		"stop_grace_period", "stop_signal", "init", "tmpfs", "ulimits", "extra_hosts", "hostname",
		"cap_add", "cap_drop", "logging", "sysctls", "image", "tty", "stdin_open", "dns", "dns_search", "domainname")
	// converted into the stack's own form (see renderService)
	converted = set("build", "ports", "volumes", "depends_on", "restart", "networks", "deploy",
		"mem_limit", "mem_reservation", "cpus", "scale")
	// left out, with a line in Ignored saying why
	ignored = map[string]string{
		"pull_policy":    "the tool builds the image on the node, or the node pulls it",
		"container_name": "a Swarm names its tasks itself",
		"profiles":       "profiles are chosen when the configuration is resolved",
		"expose":         "every port is reachable on the stack's network",
		"links":          "services reach each other by name on the stack's network",
		"platform":       "the node runs its own platform",
		"env_file":       "its variables are already in environment",
	}
	// refused: a Swarm service cannot do them, and leaving them out would change what runs
	refused = map[string]string{
		"privileged":    "a Swarm service cannot run privileged",
		"network_mode":  "a Swarm service joins networks, not another container's or the host's stack",
		"devices":       "a Swarm service cannot be given devices",
		"pid":           "a Swarm service cannot share a process namespace",
		"ipc":           "a Swarm service cannot share an IPC namespace",
		"volumes_from":  "a Swarm service cannot mount another container's volumes; name the volume",
		"userns_mode":   "a Swarm service cannot choose its user namespace",
		"cgroup_parent": "a Swarm service cannot choose its cgroup",
		"security_opt":  "a Swarm service cannot take security options",
		"read_only":     "a Swarm service's root filesystem cannot be made read-only",
	}
)

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// Render renders config (compose's resolved configuration as JSON) for o.
func Render(config []byte, o Options) (Rendered, error) {
	var p project
	if err := json.Unmarshal(config, &p); err != nil {
		return Rendered{}, fmt.Errorf("read the resolved compose configuration: %w", err)
	}
	r := &renderer{o: o, out: Rendered{Ready: map[string]Condition{}, Built: map[string]string{}, Pushed: map[string]string{}, Registry: o.Registry}}
	if len(p.Secrets) > 0 && string(p.Secrets) != "null" {
		r.refuse("secrets: the tool passes secrets as environment values; file secrets are not rendered")
	}
	if len(p.Configs) > 0 && string(p.Configs) != "null" {
		r.refuse("configs: not rendered; mount the file from the synced checkout instead")
	}
	stack := map[string]any{"version": "3.8"}
	services := map[string]any{}
	deps := map[string]map[string]Condition{}
	for _, name := range sortedKeys(p.Services) {
		svc, after := r.service(name, p.Services[name])
		services[name] = svc
		deps[name] = after
	}
	for _, svc := range services { // a service that runs a built image (not building it) names it there too
		if m, _ := svc.(map[string]any); m != nil {
			if image, _ := m["image"].(string); r.out.Pushed[image] != "" {
				m["image"] = r.out.Pushed[image]
			}
		}
	}
	stack["services"] = services
	stack["networks"] = r.networks(p.Networks)
	if vols := r.volumes(p.Volumes); len(vols) > 0 {
		stack["volumes"] = vols
	}
	r.out.Waves = r.waves(deps)
	if len(r.problems) > 0 {
		return Rendered{}, &Refused{Problems: r.problems}
	}
	file, err := json.MarshalIndent(stack, "", "  ")
	if err != nil {
		return Rendered{}, err
	}
	r.out.File = append(file, '\n')
	sort.Strings(r.out.Ignored)
	return r.out, nil
}

type renderer struct {
	o        Options
	out      Rendered
	problems []string
}

func (r *renderer) refuse(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *renderer) ignore(format string, args ...any) {
	r.out.Ignored = append(r.out.Ignored, fmt.Sprintf(format, args...))
}

// service renders one service and returns what it waits for.
func (r *renderer) service(name string, raw map[string]json.RawMessage) (map[string]any, map[string]Condition) {
	svc := map[string]any{}
	for _, key := range sortedKeys(raw) {
		switch {
		case kept[key]:
			var v any
			_ = json.Unmarshal(raw[key], &v)
			if v != nil {
				svc[key] = v
			}
		case converted[key]:
		case ignored[key] != "":
			if string(raw[key]) != "null" && string(raw[key]) != "[]" {
				r.ignore("%s: %s (%s)", name, key, ignored[key])
			}
		case refused[key] != "":
			r.refuse("%s: %s: %s", name, key, refused[key])
		case strings.HasPrefix(key, "x-"):
		default:
			r.refuse("%s: %s: not known to the renderer", name, key)
		}
	}
	r.image(name, raw, svc)
	if ports := r.ports(name, raw["ports"]); len(ports) > 0 {
		svc["ports"] = ports
	}
	if vols := r.mounts(name, raw["volumes"]); len(vols) > 0 {
		svc["volumes"] = vols
	}
	if nets := r.serviceNetworks(raw["networks"]); nets != nil {
		svc["networks"] = nets
	}
	svc["labels"] = r.labels(name, svc["labels"])
	svc["deploy"] = r.deploy(name, raw)
	return svc, r.dependsOn(name, raw["depends_on"])
}

// Compose's labels, which the tool's questions to an engine (docker ps, volume ls) select
// an instance's containers and volumes by; a Swarm task carries them like any label.
const (
	ProjectLabel = "com.docker.compose.project"
	ServiceLabel = "com.docker.compose.service"
	VolumeLabel  = "com.docker.compose.volume"
)

// labels are the container's own labels with compose's project and service added (and
// what compose's logs and exec look for), so the tool's compose commands on the node
// find the stack's containers.
func (r *renderer) labels(name string, given any) map[string]any {
	out := map[string]any{}
	switch l := given.(type) {
	case map[string]any:
		for k, v := range l {
			out[k] = v
		}
	case []any: // "key=value" entries
		for _, e := range l {
			if k, v, ok := strings.Cut(fmt.Sprint(e), "="); ok {
				out[k] = v
			}
		}
	}
	out[ProjectLabel], out[ServiceLabel] = r.o.Project, name
	// what compose's logs and exec select a service's container by, besides those
	out["com.docker.compose.oneoff"], out["com.docker.compose.container-number"] = "False", "1"
	out["com.docker.compose.config-hash"] = "swarm"
	return out
}

// image is the tag the service runs: a built service's is built on the node, under the
// tag compose would give it.
func (r *renderer) image(name string, raw map[string]json.RawMessage, svc map[string]any) {
	var image string
	_ = json.Unmarshal(raw["image"], &image)
	if tag := r.o.Images[name]; tag != "" {
		image = tag
	}
	if _, builds := raw["build"]; builds {
		if image == "" {
			image = r.o.Project + "-" + name
		}
		r.out.Built[name] = image
		if r.o.Registry != "" {
			r.out.Pushed[image] = strings.TrimSuffix(r.o.Registry, "/") + "/" + image
			image = r.out.Pushed[image]
		}
	}
	if image == "" {
		r.refuse("%s: no image and nothing to build", name)
		return
	}
	svc["image"] = image
}

// ports publishes every port in host mode on the node: the routing mesh needs IPVS,
// which some hosts lack, and the tool reaches the node's ports through its tunnel.
func (r *renderer) ports(name string, raw json.RawMessage) []map[string]any {
	var ports []struct {
		Target    int    `json:"target"`
		Published string `json:"published"`
		Protocol  string `json:"protocol"`
		HostIP    string `json:"host_ip"`
	}
	_ = json.Unmarshal(raw, &ports)
	var out []map[string]any
	for _, p := range ports {
		port := map[string]any{"target": p.Target, "mode": "host"}
		if p.Protocol != "" {
			port["protocol"] = p.Protocol
		}
		if p.Published != "" {
			n, err := strconv.Atoi(p.Published)
			if err != nil {
				r.refuse("%s: port %s: a Swarm publishes one port per entry, not a range", name, p.Published)
				continue
			}
			port["published"] = n
		}
		if p.HostIP != "" {
			r.ignore("%s: port %d: host_ip %s (a Swarm publishes on every address of the node)", name, p.Target, p.HostIP)
		}
		out = append(out, port)
	}
	return out
}

// mounts keeps named volumes, bind mounts (the tool syncs their sources to the node,
// under the same paths) and tmpfs mounts.
func (r *renderer) mounts(name string, raw json.RawMessage) []map[string]any {
	var vols []struct {
		Type     string `json:"type"`
		Source   string `json:"source"`
		Target   string `json:"target"`
		ReadOnly bool   `json:"read_only"`
		Volume   *struct {
			NoCopy bool `json:"nocopy"`
		} `json:"volume"`
	}
	_ = json.Unmarshal(raw, &vols)
	var out []map[string]any
	for _, v := range vols {
		m := map[string]any{"type": v.Type, "target": v.Target}
		switch v.Type {
		case "volume", "bind":
			if v.Source == "" {
				m["type"] = "volume" // anonymous: a fresh volume per task, as compose gives one per container
			} else {
				m["source"] = v.Source
			}
		case "tmpfs":
		default:
			r.refuse("%s: volume %s: type %s is not rendered", name, v.Target, v.Type)
			continue
		}
		if v.ReadOnly {
			m["read_only"] = true
		}
		if v.Volume != nil && v.Volume.NoCopy {
			m["volume"] = map[string]any{"nocopy": true}
		}
		out = append(out, m)
	}
	return out
}

// serviceNetworks keeps the networks a service joins and their aliases.
func (r *renderer) serviceNetworks(raw json.RawMessage) map[string]any {
	var nets map[string]*struct {
		Aliases []string `json:"aliases"`
	}
	if json.Unmarshal(raw, &nets) != nil || len(nets) == 0 {
		return nil
	}
	out := map[string]any{}
	for n, opts := range nets {
		if opts != nil && len(opts.Aliases) > 0 {
			out[n] = map[string]any{"aliases": opts.Aliases}
		} else {
			out[n] = nil
		}
	}
	return out
}

// deploy places the service on the node, with DNS round robin (a virtual IP needs
// IPVS), the restart policy compose's restart asks for, and the resources it reserves.
func (r *renderer) deploy(name string, raw map[string]json.RawMessage) map[string]any {
	var given struct {
		Replicas  *int           `json:"replicas"`
		Resources map[string]any `json:"resources"`
		Labels    map[string]any `json:"labels"`
	}
	_ = json.Unmarshal(raw["deploy"], &given)
	d := map[string]any{
		"endpoint_mode":  "dnsrr",
		"placement":      map[string]any{"constraints": []string{"node.hostname == " + r.o.Node}},
		"restart_policy": map[string]any{"condition": restartCondition(raw["restart"])},
	}
	if given.Replicas != nil {
		d["replicas"] = *given.Replicas
	}
	var scale *int
	if json.Unmarshal(raw["scale"], &scale) == nil && scale != nil {
		d["replicas"] = *scale
	}
	res := given.Resources
	if res == nil {
		res = map[string]any{}
	}
	short := func(key, kind, field string) {
		var v any
		if json.Unmarshal(raw[key], &v) != nil || v == nil {
			return
		}
		m, _ := res[kind].(map[string]any)
		if m == nil {
			m = map[string]any{}
			res[kind] = m
		}
		if f, ok := v.(float64); ok && field == "memory" {
			v = strconv.FormatInt(int64(f), 10) // compose resolves sizes to bytes
		} else if ok {
			v = strconv.FormatFloat(f, 'f', -1, 64)
		}
		m[field] = v
	}
	short("mem_limit", "limits", "memory")
	short("cpus", "limits", "cpus")
	// The memory the services reserve is held, summed, by the instance's placeholder
	// (Reservations), from placement until destroy: reserved here as well, the Swarm
	// would count it twice while the stack runs.
	if kept, _ := res["reservations"].(map[string]any); kept != nil {
		delete(kept, "memory")
		if len(kept) == 0 {
			delete(res, "reservations")
		}
	}
	if len(res) > 0 {
		d["resources"] = res
	}
	if len(given.Labels) > 0 {
		d["labels"] = given.Labels
	}
	return d
}

// restartCondition is a Swarm restart policy's condition for compose's restart.
func restartCondition(raw json.RawMessage) string {
	var restart string
	_ = json.Unmarshal(raw, &restart)
	switch {
	case restart == "always" || restart == "unless-stopped":
		return "any"
	case strings.HasPrefix(restart, "on-failure"):
		return "on-failure"
	}
	return "none" // "no", or not given: compose does not restart it either
}

// dependsOn reads a service's depends_on: what it waits for, and records what each
// dependency must reach (the strictest any dependent asks).
func (r *renderer) dependsOn(name string, raw json.RawMessage) map[string]Condition {
	var deps map[string]struct {
		Condition string `json:"condition"`
	}
	_ = json.Unmarshal(raw, &deps)
	out := map[string]Condition{}
	for dep, d := range deps {
		c := Started
		switch d.Condition {
		case "service_healthy":
			c = Healthy
		case "service_completed_successfully":
			c = Completed
		case "", "service_started":
		default:
			r.refuse("%s: depends_on %s: condition %s is not known", name, dep, d.Condition)
		}
		out[dep] = c
		if rank(c) > rank(r.out.Ready[dep]) {
			r.out.Ready[dep] = c
		}
	}
	return out
}

func rank(c Condition) int { return map[Condition]int{Started: 1, Healthy: 2, Completed: 3}[c] }

// waves orders the services so each comes after everything it depends on.
func (r *renderer) waves(deps map[string]map[string]Condition) [][]string {
	placed := map[string]bool{}
	var waves [][]string
	for len(placed) < len(deps) {
		var wave []string
		for _, name := range sortedKeys(deps) {
			if placed[name] {
				continue
			}
			ready := true
			for dep := range deps[name] {
				if _, known := deps[dep]; !known {
					r.refuse("%s: depends_on %s, which is not in the project (or not in its chosen profiles)", name, dep)
					return nil
				}
				ready = ready && placed[dep]
			}
			if ready {
				wave = append(wave, name)
			}
		}
		if len(wave) == 0 {
			var left []string
			for _, name := range sortedKeys(deps) {
				if !placed[name] {
					left = append(left, name)
				}
			}
			r.refuse("depends_on makes a cycle among %s", strings.Join(left, ", "))
			return nil
		}
		for _, name := range wave {
			placed[name] = true
		}
		waves = append(waves, wave)
	}
	return waves
}

// networks renders the project's networks as overlay networks (attachable, so the
// tool's helpers can join them), named by the stack; external ones are kept by name.
func (r *renderer) networks(nets map[string]map[string]json.RawMessage) map[string]any {
	out := map[string]any{}
	for name, n := range nets {
		var external bool
		_ = json.Unmarshal(n["external"], &external)
		if external {
			var real string
			_ = json.Unmarshal(n["name"], &real)
			out[name] = map[string]any{"external": true, "name": real}
			continue
		}
		if driver := string(n["driver"]); driver != "" && driver != `"overlay"` && driver != `"bridge"` && driver != "null" {
			r.refuse("network %s: driver %s is not rendered", name, driver)
		}
		out[name] = map[string]any{"driver": "overlay", "attachable": true}
	}
	if len(out) == 0 {
		out["default"] = map[string]any{"driver": "overlay", "attachable": true}
	}
	return out
}

// volumes renders the project's named volumes: created by the Swarm on the node as
// <stack>_<name>, which is compose's <project>_<name> when the stack is named after
// the project; external ones are kept by name.
func (r *renderer) volumes(vols map[string]map[string]json.RawMessage) map[string]any {
	out := map[string]any{}
	for name, v := range vols {
		var external bool
		_ = json.Unmarshal(v["external"], &external)
		if external {
			var real string
			_ = json.Unmarshal(v["name"], &real)
			out[name] = map[string]any{"external": true, "name": real}
			continue
		}
		var want string
		_ = json.Unmarshal(v["name"], &want)
		if want != "" && want != r.o.Project+"_"+name {
			r.refuse("volume %s: its name %s is not %s_%s, the name the stack would give it", name, want, r.o.Project, name)
		}
		out[name] = map[string]any{"labels": map[string]string{ProjectLabel: r.o.Project, VolumeLabel: name}}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Reservations is the memory a resolved compose configuration's services reserve
// together (deploy.resources.reservations.memory or mem_reservation, times replicas):
// what its placeholder holds on the node. 0 when none reserves any.
func Reservations(config []byte) (int64, error) {
	var p struct {
		Services map[string]struct {
			MemReservation json.RawMessage `json:"mem_reservation"`
			Scale          *int64          `json:"scale"`
			Deploy         struct {
				Replicas  *int64 `json:"replicas"`
				Resources struct {
					Reservations struct {
						Memory json.RawMessage `json:"memory"`
					} `json:"reservations"`
				} `json:"resources"`
			} `json:"deploy"`
		} `json:"services"`
	}
	if err := json.Unmarshal(config, &p); err != nil {
		return 0, fmt.Errorf("read the resolved compose configuration: %w", err)
	}
	var total int64
	for name, svc := range p.Services {
		mem, err := byteCount(svc.Deploy.Resources.Reservations.Memory)
		if err == nil && mem == 0 {
			mem, err = byteCount(svc.MemReservation)
		}
		if err != nil {
			return 0, fmt.Errorf("service %s: memory reservation: %w", name, err)
		}
		replicas := int64(1)
		switch {
		case svc.Scale != nil:
			replicas = *svc.Scale
		case svc.Deploy.Replicas != nil:
			replicas = *svc.Deploy.Replicas
		}
		total += mem * replicas
	}
	return total, nil
}

// byteCount reads a size compose has resolved to bytes: a number, or a string of digits.
func byteCount(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n json.Number
	if err := json.Unmarshal(bytes.Trim(raw, `"`), &n); err != nil {
		return 0, fmt.Errorf("%s is not a number of bytes", raw)
	}
	return n.Int64()
}
