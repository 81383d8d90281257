// Package config is the one declarative table behind every name and number the sandbox
// tool uses: instance ids, paths, slots, host ports, env keys, shared-data subdirectories,
// startability checks and the 1Password mapping. A consuming repository replaces or edits
// the value returned by Default in its magefile; nothing else in pkg/ hard-codes these.
package config

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// Config is the whole table. It is a plain value: pass it, copy it, edit it.
type Config struct {
	// Project names the tool's files and messages ("ktrdr").
	Project string
	// IDPrefix starts every sandbox id and compose project ("ktrdr--").
	IDPrefix string
	// Home is the per-machine state directory, relative to the user's home (".ktrdr").
	Home string
	// RegistryFile is the registry path relative to Home.
	RegistryFile string
	// SharedDir is the shared-data directory relative to Home, and SharedEnv the
	// variable that carries its absolute path into .env.sandbox.
	SharedDir string
	SharedEnv string
	// Shared lists the shared-data subdirectories and the variable compose mounts each by.
	Shared []SharedSubdir
	// EnvFile is the per-instance file at the instance root (".env.sandbox").
	EnvFile string
	// ComposeFile is the compose file at the instance root, shared by every instance.
	ComposeFile string
	// EnvFileVersion is written as SANDBOX_VERSION.
	EnvFileVersion int

	// FirstSandboxSlot..LastSandboxSlot are the sandbox slots; LocalProd uses its own.
	FirstSandboxSlot int
	LastSandboxSlot  int
	// PortOffset is added to every host port. It is 0 for users; tests move the whole
	// table out of the way of a developer's running stacks.
	PortOffset int
	// Ports are the host ports of one slot, in display order.
	Ports []Port
	// APIPort is the port variable list shows as an instance's API port; Headline are
	// the ones create and init print.
	APIPort  string
	Headline []string

	Sandbox   Lifecycle
	LocalProd Lifecycle

	// Gate is the startability gate, run in order under one deadline.
	Gate []Check
	// Secrets maps 1Password field labels (CONCEALED fields only) to env variables.
	Secrets []SecretField
	// Prepare runs in the instance directory before compose starts, e.g. to build a
	// binary that an image copies in. Empty for the KTRDR profile.
	Prepare []Command
	// ComposeProjectLabel is the container label that names a compose project.
	ComposeProjectLabel string
}

// SharedSubdir is one shared-data directory and the env variable compose mounts it by.
type SharedSubdir struct {
	Name string
	Env  string
}

// Port is one host port variable. Slot 0 uses Standard; slot N uses First+Stride*(N-1).
type Port struct {
	Env      string // variable in .env.sandbox and the compose file
	Label    string // what a user calls it, in status and errors
	Standard int    // slot 0 (local-prod): the standard port
	First    int    // slot 1
	Stride   int    // distance between consecutive sandbox slots
	// URL, when set, shows this port as a service URL ("http://localhost:%d" + path).
	URL string
	// Worker marks a worker port: shown under Workers instead of Services.
	Worker bool
}

// Lifecycle is what differs between sandboxes and local-prod when an instance starts.
type Lifecycle struct {
	Kind         string // "sandbox" or "local-prod", in messages
	TargetPrefix string // "sandbox" or "localProd", for hints
	SecretsItem  string // 1Password item
	Profiles     []string
	Env          map[string]string // added to compose's environment on up
	// SecretsRequired makes a secrets failure fatal (production mode).
	SecretsRequired bool
	// InstanceID is fixed for singletons (local-prod), empty for sandboxes.
	InstanceID string
	// Slot is fixed for singletons (local-prod).
	Slot int
}

// CheckKind says how a gate check probes.
type CheckKind string

const (
	CheckTCP     CheckKind = "tcp"     // a TCP connect to the port
	CheckHTTP    CheckKind = "http"    // GET answers one of Accept
	CheckWorkers CheckKind = "workers" // GET lists at least MinWorkers
)

// Check is one startability gate check.
type Check struct {
	Name    string
	Kind    CheckKind
	PortEnv string // which Port it probes
	Path    string // HTTP path
	Accept  []int  // HTTP statuses that pass
	// MinWorkers is the number a workers check needs.
	MinWorkers int
	// After names a check that must pass first; otherwise this one is skipped.
	After string
}

// SecretField maps one 1Password field label to one environment variable.
type SecretField struct {
	Label string
	Env   string
}

// Command is a program run through the exec helper; no shell, no $ expansion.
type Command struct {
	Name string
	Args []string
	Env  map[string]string
}

// Default returns the KTRDR profile.
func Default() Config {
	return Config{
		Project:        "ktrdr",
		IDPrefix:       "ktrdr--",
		Home:           ".ktrdr",
		RegistryFile:   filepath.Join("sandbox", "instances.json"),
		SharedDir:      "shared",
		SharedEnv:      "KTRDR_SHARED_DIR",
		EnvFile:        ".env.sandbox",
		ComposeFile:    "docker-compose.sandbox.yml",
		EnvFileVersion: 1,
		Shared: []SharedSubdir{
			{Name: "data", Env: "KTRDR_DATA_DIR"},
			{Name: "models", Env: "KTRDR_MODELS_DIR"},
			{Name: "strategies", Env: "KTRDR_STRATEGIES_DIR"},
		},
		FirstSandboxSlot: 1,
		LastSandboxSlot:  10,
		Ports: []Port{
			{Env: "KTRDR_API_PORT", Label: "Backend", Standard: 8000, First: 8001, Stride: 1, URL: "http://localhost:%d"},
			{Env: "KTRDR_DB_PORT", Label: "Database", Standard: 5432, First: 5433, Stride: 1},
			{Env: "KTRDR_GRAFANA_PORT", Label: "Grafana", Standard: 3000, First: 3001, Stride: 1, URL: "http://localhost:%d"},
			{Env: "KTRDR_JAEGER_UI_PORT", Label: "Jaeger UI", Standard: 16686, First: 16687, Stride: 1, URL: "http://localhost:%d"},
			{Env: "KTRDR_JAEGER_OTLP_GRPC_PORT", Label: "OTLP gRPC", Standard: 4317, First: 4327, Stride: 10},
			{Env: "KTRDR_JAEGER_OTLP_HTTP_PORT", Label: "OTLP HTTP", Standard: 4318, First: 4328, Stride: 10},
			{Env: "KTRDR_PROMETHEUS_PORT", Label: "Prometheus", Standard: 9090, First: 9091, Stride: 1, URL: "http://localhost:%d"},
			{Env: "KTRDR_WORKER_PORT_1", Label: "Worker 1", Standard: 5003, First: 5011, Stride: 10, URL: "http://localhost:%d", Worker: true},
			{Env: "KTRDR_WORKER_PORT_2", Label: "Worker 2", Standard: 5004, First: 5012, Stride: 10, URL: "http://localhost:%d", Worker: true},
			{Env: "KTRDR_WORKER_PORT_3", Label: "Worker 3", Standard: 5005, First: 5013, Stride: 10, URL: "http://localhost:%d", Worker: true},
			{Env: "KTRDR_WORKER_PORT_4", Label: "Worker 4", Standard: 5006, First: 5014, Stride: 10, URL: "http://localhost:%d", Worker: true},
		},
		APIPort:  "KTRDR_API_PORT",
		Headline: []string{"KTRDR_API_PORT", "KTRDR_GRAFANA_PORT"},
		Sandbox: Lifecycle{
			Kind:         "sandbox",
			TargetPrefix: "sandbox",
			SecretsItem:  "ktrdr-sandbox-dev",
			Env:          map[string]string{"KTRDR_ENV": "development"},
		},
		LocalProd: Lifecycle{
			Kind:            "local-prod",
			TargetPrefix:    "localProd",
			SecretsItem:     "ktrdr-local-prod",
			Profiles:        []string{"local-prod"},
			Env:             map[string]string{"KTRDR_ENV": "production"},
			SecretsRequired: true,
			InstanceID:      "ktrdr-prod",
			Slot:            0,
		},
		Gate: []Check{
			{Name: "Database", Kind: CheckTCP, PortEnv: "KTRDR_DB_PORT"},
			{Name: "Backend", Kind: CheckHTTP, PortEnv: "KTRDR_API_PORT", Path: "/api/v1/health", Accept: []int{200}},
			{Name: "Workers", Kind: CheckWorkers, PortEnv: "KTRDR_API_PORT", Path: "/api/v1/workers", MinWorkers: 4, After: "Backend"},
			{Name: "Jaeger", Kind: CheckHTTP, PortEnv: "KTRDR_JAEGER_UI_PORT", Path: "/", Accept: []int{200, 302}},
		},
		Secrets: []SecretField{
			{Label: "db_password", Env: "DB_PASSWORD"},
			{Label: "jwt_secret", Env: "JWT_SECRET"},
			{Label: "anthropic_api_key", Env: "ANTHROPIC_API_KEY"},
			{Label: "grafana_password", Env: "GF_ADMIN_PASSWORD"},
		},
		ComposeProjectLabel: "com.docker.compose.project",
	}
}

// Validate reports a table that cannot work: a port outside 1..65535, one host port in
// two slots (two instances would then collide on it), or a reference to a port variable
// the table does not have.
func (c Config) Validate() error {
	known := map[string]bool{}
	for _, p := range c.Ports {
		known[p.Env] = true
	}
	refs := append([]string{c.APIPort}, c.Headline...)
	for _, g := range c.Gate {
		refs = append(refs, g.PortEnv)
	}
	for _, r := range refs {
		if !known[r] {
			return fmt.Errorf("config: %q is not a port variable of the table", r)
		}
	}
	owner := map[int]string{}
	for _, slot := range c.AllSlots() {
		for _, a := range c.PortsFor(slot) {
			if a.Host < 1 || a.Host > 65535 {
				return fmt.Errorf("config: %s for slot %d is %d, outside 1-65535", a.Env, slot, a.Host)
			}
			where := fmt.Sprintf("%s of slot %d", a.Env, slot)
			if prev, taken := owner[a.Host]; taken {
				return fmt.Errorf("config: port %d is both %s and %s", a.Host, prev, where)
			}
			owner[a.Host] = where
		}
	}
	return nil
}

// AllSlots is local-prod's slot followed by every sandbox slot.
func (c Config) AllSlots() []int {
	slots := []int{c.LocalProd.Slot}
	for s := c.FirstSandboxSlot; s <= c.LastSandboxSlot; s++ {
		slots = append(slots, s)
	}
	return slots
}

// IsSandboxSlot reports whether slot belongs to the sandbox range.
func (c Config) IsSandboxSlot(slot int) bool {
	return slot >= c.FirstSandboxSlot && slot <= c.LastSandboxSlot
}

// Assignment is one port variable's value in one slot.
type Assignment struct {
	Port
	Host int // the host port number
}

// PortsFor returns the host ports of slot in table order.
func (c Config) PortsFor(slot int) []Assignment {
	out := make([]Assignment, 0, len(c.Ports))
	for _, p := range c.Ports {
		n := p.Standard
		if slot != c.LocalProd.Slot {
			n = p.First + p.Stride*(slot-c.FirstSandboxSlot)
		}
		out = append(out, Assignment{Port: p, Host: n + c.PortOffset})
	}
	return out
}

// PortEnv returns the variable → value map of slot's ports, as strings for env files.
func (c Config) PortEnv(slot int) map[string]string {
	m := map[string]string{}
	for _, a := range c.PortsFor(slot) {
		m[a.Env] = strconv.Itoa(a.Host)
	}
	return m
}

// RegistryPath is the registry file under home.
func (c Config) RegistryPath(home string) string {
	return filepath.Join(home, c.Home, c.RegistryFile)
}

// SharedPath is the shared-data directory under home.
func (c Config) SharedPath(home string) string {
	return filepath.Join(home, c.Home, c.SharedDir)
}
