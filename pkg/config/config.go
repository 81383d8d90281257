package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/hooks"
)

// Config is the whole table. It is a plain value: pass it, copy it, edit it.
type Config struct {
	// Project is the name every other per-project name was derived from ("ktrdr").
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
	// Empty: the project has no shared data (the directory is still made and reported).
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
	// the ones create and init print (empty: the API port).
	APIPort  string
	Headline []string
	// DefaultService is the compose service shell and logs default to ("" : shell asks
	// for -service, logs shows every service).
	DefaultService string
	// LocalProdClone is where the docs suggest cloning the repository for local-prod
	// ("~/ktrdr-prod"), shown in hints.
	LocalProdClone string
	// SetupDoc is the document hints point to for installing Docker and compose; empty
	// means hints carry no link.
	SetupDoc string

	Sandbox   Lifecycle
	LocalProd Lifecycle

	// Gate is the startability gate, run in order under one deadline.
	Gate []Check
	// Secrets maps 1Password field labels (CONCEALED fields only) to env variables.
	Secrets []SecretField
	// Prepare runs in the instance directory before compose starts, e.g. to build a
	// binary that an image copies in. Empty for the KTRDR profile.
	Prepare []Command
	// Hooks are host-side commands run at lifecycle events, before the repository's own
	// .sandbox/hooks/<event> executables; HookTimeout bounds each (0: 2 minutes).
	Hooks       []hooks.Hook
	HookTimeout time.Duration
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
	Kind        Kind   // which of the two lifecycles
	SecretsItem string // 1Password item
	Profiles    []string
	Env         map[string]string // added to compose's environment on up
	// SecretsRequired makes a secrets failure fatal (production mode).
	SecretsRequired bool
	// InstanceID is fixed for singletons (local-prod), empty for sandboxes.
	InstanceID string
	// Slot is fixed for singletons (local-prod).
	Slot int
}

// Kind names a lifecycle. It is also what messages call an instance of it.
type Kind string

const (
	KindSandbox   Kind = "sandbox"
	KindLocalProd Kind = "local-prod"
)

// Lifecycle returns the table entry of kind k.
func (c Config) Lifecycle(k Kind) Lifecycle {
	if k == KindLocalProd {
		return c.LocalProd
	}
	return c.Sandbox
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
	// Output and Inputs, when both are set, let a prepare step be skipped when it has
	// nothing to do: Output (a file, relative to the instance) exists, was built for the
	// same platform, and is newer than every file the Inputs globs match. A build tool
	// that checks this itself still costs its start (go build: ~0.1 s) on every up.
	Output string
	Inputs []string
}

// New returns the table of a project named project, with every per-project name derived
// from it: ids "<p>--name", state under ~/.<p> (registry sandbox/instances.json, shared data
// shared/), local-prod "<p>-prod", 1Password items "<p>-sandbox-dev" and "<p>-local-prod",
// env file .env.sandbox, compose file docker-compose.sandbox.yml, sandbox slots 1-10. It has
// no ports, no shared subdirectories, no gate and no secrets: the consumer adds them (and
// sets APIPort), and Validate says what is still missing.
func New(project string) Config {
	env := strings.ToUpper(nonEnv.ReplaceAllString(project, "_"))
	return Config{
		Project:             project,
		IDPrefix:            project + "--",
		Home:                "." + project,
		RegistryFile:        filepath.Join("sandbox", "instances.json"),
		SharedDir:           "shared",
		SharedEnv:           env + "_SHARED_DIR",
		EnvFile:             ".env.sandbox",
		ComposeFile:         "docker-compose.sandbox.yml",
		EnvFileVersion:      1,
		FirstSandboxSlot:    1,
		LastSandboxSlot:     10,
		LocalProdClone:      "~/" + project + "-prod",
		ComposeProjectLabel: "com.docker.compose.project",
		Sandbox:             Lifecycle{Kind: KindSandbox, SecretsItem: project + "-sandbox-dev"},
		LocalProd: Lifecycle{Kind: KindLocalProd, SecretsItem: project + "-local-prod",
			SecretsRequired: true, InstanceID: project + "-prod", Slot: 0},
	}
}

var nonEnv = regexp.MustCompile(`[^A-Za-z0-9]+`)

// KTRDR returns the profile of the KTRDR stack: New("ktrdr") plus its ports, shared data,
// gate, secrets and production settings.
func KTRDR() Config {
	c := New("ktrdr")
	c.Shared = []SharedSubdir{
		{Name: "data", Env: "KTRDR_DATA_DIR"},
		{Name: "models", Env: "KTRDR_MODELS_DIR"},
		{Name: "strategies", Env: "KTRDR_STRATEGIES_DIR"},
	}
	c.Ports = []Port{
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
	}
	c.APIPort = "KTRDR_API_PORT"
	c.Headline = []string{"KTRDR_API_PORT", "KTRDR_GRAFANA_PORT"}
	c.DefaultService = "backend"
	c.SetupDoc = "docs/NEW_MACHINE_SETUP.md"
	c.Sandbox.Env = map[string]string{"KTRDR_ENV": "development"}
	c.LocalProd.Profiles = []string{"local-prod"}
	c.LocalProd.Env = map[string]string{"KTRDR_ENV": "production"}
	c.Gate = []Check{
		{Name: "Database", Kind: CheckTCP, PortEnv: "KTRDR_DB_PORT"},
		{Name: "Backend", Kind: CheckHTTP, PortEnv: "KTRDR_API_PORT", Path: "/api/v1/health", Accept: []int{200}},
		{Name: "Workers", Kind: CheckWorkers, PortEnv: "KTRDR_API_PORT", Path: "/api/v1/workers", MinWorkers: 4, After: "Backend"},
		{Name: "Jaeger", Kind: CheckHTTP, PortEnv: "KTRDR_JAEGER_UI_PORT", Path: "/", Accept: []int{200, 302}},
	}
	c.Secrets = []SecretField{
		{Label: "db_password", Env: "DB_PASSWORD"},
		{Label: "jwt_secret", Env: "JWT_SECRET"},
		{Label: "anthropic_api_key", Env: "ANTHROPIC_API_KEY"},
		{Label: "grafana_password", Env: "GF_ADMIN_PASSWORD"},
	}
	return c
}

// HasWorkers reports whether the table has worker ports (and so a Workers section).
func (c Config) HasWorkers() bool {
	for _, p := range c.Ports {
		if p.Worker {
			return true
		}
	}
	return false
}

// HeadlinePorts are the port variables create and init print.
func (c Config) HeadlinePorts() []string {
	if len(c.Headline) > 0 {
		return c.Headline
	}
	return []string{c.APIPort}
}

// ErrIncomplete is wrapped by Validate when a field the tool relies on is empty.
var ErrIncomplete = errors.New("configuration is incomplete")

// Validate reports a table that cannot work: a field the tool relies on left empty, a
// port outside 1..65535, one host port in two slots (two instances would then collide on
// it), or a reference to a port variable the table does not have.
func (c Config) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"Project", c.Project}, {"IDPrefix", c.IDPrefix}, {"Home", c.Home},
		{"RegistryFile", c.RegistryFile}, {"SharedDir", c.SharedDir}, {"SharedEnv", c.SharedEnv},
		{"EnvFile", c.EnvFile}, {"ComposeFile", c.ComposeFile}, {"APIPort", c.APIPort},
		{"ComposeProjectLabel", c.ComposeProjectLabel}, {"LocalProd.InstanceID", c.LocalProd.InstanceID},
	} {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("config: %s is empty: %w", f.name, ErrIncomplete)
		}
	}
	if len(c.Ports) == 0 {
		return fmt.Errorf("config: Ports is empty (at least one port, the API port, is needed): %w", ErrIncomplete)
	}
	for _, f := range []struct{ name, value string }{{"Home", c.Home}, {"RegistryFile", c.RegistryFile}, {"SharedDir", c.SharedDir}} {
		if filepath.IsAbs(f.value) || filepath.Clean(f.value) == "." || strings.HasPrefix(filepath.Clean(f.value), "..") {
			return fmt.Errorf("config: %s=%q must be a relative path below the user's home", f.name, f.value)
		}
	}
	if c.FirstSandboxSlot < 1 || c.LastSandboxSlot < c.FirstSandboxSlot {
		return fmt.Errorf("config: sandbox slots %d-%d are not a range of positive slots", c.FirstSandboxSlot, c.LastSandboxSlot)
	}
	if c.IsSandboxSlot(c.LocalProd.Slot) {
		return fmt.Errorf("config: local-prod's slot %d is inside the sandbox slots", c.LocalProd.Slot)
	}
	known := map[string]bool{}
	for _, p := range c.Ports {
		known[p.Env] = true
	}
	refs := append([]string{c.APIPort}, c.Headline...)
	for _, s := range c.Shared {
		if s.Name == "" || s.Env == "" || strings.ContainsAny(s.Name, `/\`) {
			return fmt.Errorf("config: shared subdirectory %+v needs a plain name and a variable", s)
		}
	}
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
