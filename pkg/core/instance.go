package core

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/envfile"
	"github.com/ktrdr/sandbox/pkg/fail"
)

// Instance is one instance directory as its env file describes it.
type Instance struct {
	ID   string
	Slot int
	Dir  string
	Vars map[string]string
	// Engine is where its containers run (the zero value: this machine).
	Engine engine.Engine
}

// ErrNotInstance is returned when a directory has no env file.
var ErrNotInstance = errors.New("not an instance directory")

// Load reads the instance at dir and checks the keys everything else relies on; kind
// chooses which init a remedy points to.
func Load(cfg config.Config, kind config.Kind, dir string) (*Instance, error) {
	path := filepath.Join(dir, cfg.EnvFile)
	reinit := fail.Run("Move the file away and run %s to write it again", fail.Do(string(kind), "init", ""))
	vars, err := envfile.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		fix := fail.Run("Run it from a sandbox directory, or create one: %s", fail.Do(fail.Sandbox, "create", "<name>"))
		if kind == config.KindLocalProd {
			fix = fail.Run("In the local-prod clone run: %s", fail.Do(fail.LocalProd, "init", ""))
		}
		return nil, fail.With(fail.CodeError, fix, fmt.Errorf("%s: %w (%s not found)", dir, ErrNotInstance, cfg.EnvFile))
	}
	if err != nil {
		return nil, fail.With(fail.CodeError, fail.Run("Fix the file by hand, or move it away and run %s again", fail.Do(string(kind), "init", "")), err)
	}
	in := &Instance{Dir: dir, Vars: vars, ID: vars["INSTANCE_ID"]}
	var missing []string
	for _, k := range RequiredKeys(cfg) {
		if vars[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fail.New(fail.CodeError, reinit, "%s is missing %v", path, missing)
	}
	slot, err := strconv.Atoi(vars["SLOT_NUMBER"])
	if err != nil {
		return nil, fail.New(fail.CodeError, reinit, "%s: SLOT_NUMBER=%q is not a number", path, vars["SLOT_NUMBER"])
	}
	in.Slot = slot
	if vars["COMPOSE_PROJECT_NAME"] != in.ID {
		return nil, fail.New(fail.CodeError, fail.Say("Set COMPOSE_PROJECT_NAME to the INSTANCE_ID, or write the file again with init"),
			"%s: COMPOSE_PROJECT_NAME=%q differs from INSTANCE_ID=%q", path, vars["COMPOSE_PROJECT_NAME"], in.ID)
	}
	for _, a := range cfg.PortsFor(slot) {
		if p, err := strconv.Atoi(vars[a.Env]); err != nil || p < 1 || p > 65535 {
			return nil, fail.New(fail.CodeError, reinit, "%s: %s=%q is not a port", path, a.Env, vars[a.Env])
		}
	}
	return in, nil
}

// RequiredKeys are the env-file keys without which an instance cannot run.
func RequiredKeys(cfg config.Config) []string {
	keys := []string{"INSTANCE_ID", "COMPOSE_PROJECT_NAME", "SLOT_NUMBER"}
	for _, p := range cfg.Ports {
		keys = append(keys, p.Env)
	}
	return keys
}

// EnvVars is the content of the env file for an instance: identity, every port of the
// slot, the shared-data paths. Never a secret.
func EnvVars(cfg config.Config, home, id string, slot int, created time.Time) map[string]string {
	vars := cfg.PortEnv(slot)
	vars["COMPOSE_PROJECT_NAME"] = id
	vars["INSTANCE_ID"] = id
	vars["SLOT_NUMBER"] = strconv.Itoa(slot)
	vars["CREATED_AT"] = Timestamp(created)
	vars["SANDBOX_VERSION"] = strconv.Itoa(cfg.EnvFileVersion)
	shared := cfg.SharedPath(home)
	vars[cfg.SharedEnv] = shared
	for _, s := range cfg.Shared {
		vars[s.Env] = filepath.Join(shared, s.Name)
	}
	return vars
}

// Timestamp formats t as the registry has always had it: UTC, microseconds, +00:00.
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

// Port returns the instance's host port for a port variable.
func (in *Instance) Port(env string) int {
	p, _ := strconv.Atoi(in.Vars[env])
	return p
}

// Ports is the instance's port variable → host port map.
func (in *Instance) Ports(cfg config.Config) map[string]int {
	m := map[string]int{}
	for _, p := range cfg.Ports {
		m[p.Env] = in.Port(p.Env)
	}
	return m
}

// Assignments are the instance's ports as the env file has them, in table order.
func (in *Instance) Assignments(cfg config.Config) []config.Assignment {
	out := make([]config.Assignment, 0, len(cfg.Ports))
	for _, p := range cfg.Ports {
		out = append(out, config.Assignment{Port: p, Host: in.Port(p.Env)})
	}
	return out
}

// Endpoint is a named address of an instance.
type Endpoint struct {
	Label string `json:"label"`
	Env   string `json:"env"`
	Port  int    `json:"port"`
	URL   string `json:"url"`
}

// Endpoints are the instance's service (workers false) or worker endpoints, in table order.
func (in *Instance) Endpoints(cfg config.Config, workers bool) []Endpoint {
	out := []Endpoint{}
	for _, a := range in.Assignments(cfg) {
		if a.Worker != workers {
			continue
		}
		e := Endpoint{Label: a.Label, Env: a.Env, Port: a.Host, URL: fmt.Sprintf("localhost:%d", a.Host)}
		if e.Label == "" {
			e.Label = a.Env
		}
		if a.URL != "" {
			e.URL = fmt.Sprintf(a.URL, a.Host)
		}
		out = append(out, e)
	}
	return out
}

// Headline are the endpoints create and init show.
func (in *Instance) Headline(cfg config.Config) []Endpoint {
	var out []Endpoint
	all := append(in.Endpoints(cfg, false), in.Endpoints(cfg, true)...)
	for _, env := range cfg.HeadlinePorts() {
		for _, e := range all {
			if e.Env == env {
				out = append(out, e)
			}
		}
	}
	return out
}

func dirOf(p string) string { return filepath.Dir(p) }

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isNotInstance(err error) bool { return errors.Is(err, ErrNotInstance) }
