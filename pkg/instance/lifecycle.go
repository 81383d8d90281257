package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gate"
	"github.com/ktrdr/sandbox/pkg/ports"
	"github.com/ktrdr/sandbox/pkg/secrets"
)

// SecretsSource fetches an item's secrets; secrets.OP in production, a fake in tests.
type SecretsSource interface {
	Fetch(ctx context.Context, item string, fields []config.SecretField) (secrets.Values, error)
}

// StartOptions are the flags of up.
type StartOptions struct {
	NoWait    bool
	Build     bool
	Timeout   time.Duration
	NoSecrets bool
	Secrets   SecretsSource // nil: the real op command line
}

// Project is the instance's compose project for a lifecycle, with env merged:
// the caller's environment, then the env file's values (they win), then extra.
func (h *Host) Project(in *Instance, lc config.Lifecycle, extra map[string]string) compose.Project {
	env := mergeEnv(h.Env, in.Vars, lc.Env, extra)
	return compose.Project{
		Name:     in.ID,
		Dir:      in.Dir,
		File:     filepath.Join(in.Dir, h.Config.ComposeFile),
		Profiles: lc.Profiles,
		Env:      env,
	}
}

func mergeEnv(base []string, layers ...map[string]string) []string {
	m := map[string]string{}
	order := []string{}
	for _, kv := range base {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, seen := m[k]; !seen {
			order = append(order, k)
		}
		m[k] = v
	}
	for _, layer := range layers {
		keys := make([]string, 0, len(layer))
		for k := range layer {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, seen := m[k]; !seen {
				order = append(order, k)
			}
			m[k] = layer[k]
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+m[k])
	}
	return out
}

// CheckDocker fails with a clear message when docker, its daemon or compose v2 is missing.
func (h *Host) CheckDocker(ctx context.Context) error {
	if _, _, err := (compose.Engine{Env: h.Env}).Versions(ctx); err != nil {
		return fail.With(fail.CodeError, "Run: go tool mage sandbox:doctor", err)
	}
	return nil
}

func (h *Host) composeFileCheck(in *Instance) error {
	file := filepath.Join(in.Dir, h.Config.ComposeFile)
	if _, err := os.Stat(file); err != nil {
		return fail.New(fail.CodeError, "The instance must be a checkout of a repository that has "+h.Config.ComposeFile,
			"no compose file at %s", file)
	}
	return nil
}

// Start brings an instance up: port check, secrets, prepare, compose up, then the gate.
func (h *Host) Start(ctx context.Context, in *Instance, lc config.Lifecycle, o StartOptions) error {
	started := time.Now()
	h.Printf("Starting %s: %s (slot %d)\n", lc.Kind, in.ID, in.Slot)
	if err := h.composeFileCheck(in); err != nil {
		return err
	}
	if err := h.CheckDocker(ctx); err != nil {
		return err
	}
	bare := h.Project(in, lc, nil)
	own, err := bare.PS(ctx)
	if err != nil {
		return fail.With(fail.CodeError, "Run: go tool mage sandbox:doctor", err)
	}
	if busy := ports.Busy(in.Assignments(h.Config), compose.PublishedPorts(own)); len(busy) > 0 {
		return fail.With(fail.CodePorts,
			"Another instance or program holds them: see go tool mage sandbox:doctor (or: ss -ltnp), stop it, then retry",
			&ports.ConflictError{Slot: in.Slot, Busy: busy})
	}
	var secretEnv map[string]string
	if o.NoSecrets {
		h.Printf("Skipping 1Password secrets (-noSecrets)\n")
	} else {
		src := o.Secrets
		if src == nil {
			src = secrets.OP{Env: h.Env}
		}
		vals, err := src.Fetch(ctx, lc.SecretsItem, h.Config.Secrets)
		switch {
		case err != nil && lc.SecretsRequired:
			return fail.With(fail.CodeError, fmt.Sprintf("%s runs in production mode and needs its secrets; pass -noSecrets to start with insecure defaults", lc.Kind),
				fmt.Errorf("secrets from 1Password item %q: %w", lc.SecretsItem, err))
		case err != nil:
			fmt.Fprintf(h.Err, "Warning: secrets from 1Password item %q: %v\n", lc.SecretsItem, err)
			fmt.Fprintf(h.Err, "Warning: continuing with default (insecure) values\n")
		default:
			h.Printf("✓ Loaded secrets: %s\n", strings.Join(vals.Names(), ", "))
			secretEnv = vals
		}
	}
	project := h.Project(in, lc, secretEnv)
	for _, c := range h.Config.Prepare {
		if err := execx.Run(ctx, execx.Cmd{Name: c.Name, Args: c.Args, Dir: in.Dir,
			Env: mergeEnv(h.Env, c.Env), Stdout: h.Out, Stderr: h.Err}); err != nil {
			return fail.With(fail.CodeError, "Fix the prepare step of the configuration", fmt.Errorf("prepare: %w", err))
		}
	}
	for _, k := range sortedKeys(lc.Env) {
		h.Printf("%s=%s\n", k, lc.Env[k])
	}
	h.Printf("Running: docker compose up -d%s (project %s)\n", map[bool]string{true: " --build"}[o.Build], in.ID)
	if err := project.Up(ctx, o.Build, io.Discard, h.Err); err != nil {
		return fail.With(fail.CodeError, fmt.Sprintf("See the compose output above; logs: go tool mage %s:logs", prefix(lc)), err)
	}
	if o.NoWait {
		h.Printf("Instance starting (use 'go tool mage %s:status' to check)\n", prefix(lc))
		return nil
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	h.Printf("Startability Gate (timeout %s):\n", timeout)
	rep := gate.Run(ctx, gate.Options{Checks: h.Config.Gate, Ports: in.Ports(h.Config), Timeout: timeout, Out: h.Out})
	if !rep.Passed() {
		h.Printf("Startability Gate: FAILED\n")
		var failed []string
		for _, r := range rep.Results {
			if r.Outcome == gate.Failed {
				failed = append(failed, r.Name+": "+r.Detail)
			}
		}
		return fail.New(fail.CodeGate, fmt.Sprintf("Check logs with: go tool mage %s:logs", prefix(lc)),
			"startability gate failed: %s", strings.Join(failed, "; "))
	}
	h.Printf("Startability Gate: PASSED\n")
	h.Printf("Instance ready (%.1fs):\n", time.Since(started).Seconds())
	for _, u := range h.URLs(in) {
		h.Printf("  %-11s %s\n", u.Label, u.URL)
	}
	return nil
}

// Stop takes an instance down, with its volumes when asked.
func (h *Host) Stop(ctx context.Context, in *Instance, lc config.Lifecycle, volumes bool) error {
	h.Printf("Stopping %s: %s\n", lc.Kind, in.ID)
	if err := h.composeFileCheck(in); err != nil {
		return err
	}
	if err := h.CheckDocker(ctx); err != nil {
		return err
	}
	if err := h.Project(in, lc, nil).Down(ctx, volumes, io.Discard, h.Err); err != nil {
		return fail.With(fail.CodeError, "See the compose output above", err)
	}
	if volumes {
		h.Printf("Instance stopped; volumes removed\n")
	} else {
		h.Printf("Instance stopped (volumes kept; -volumes removes them)\n")
	}
	return nil
}

// Logs shows compose logs.
func (h *Host) Logs(ctx context.Context, in *Instance, lc config.Lifecycle, service string, follow bool, tail int) error {
	if err := h.composeFileCheck(in); err != nil {
		return err
	}
	if err := h.CheckDocker(ctx); err != nil {
		return err
	}
	if tail <= 0 {
		tail = 100
	}
	err := h.Project(in, lc, nil).Logs(ctx, service, follow, tail, h.Out, h.Err)
	if err != nil && ctx.Err() != nil {
		return nil // Ctrl-C ends a -follow; that is not a failure
	}
	return fail.With(fail.CodeError, "Is the service name right? See: go tool mage "+prefix(lc)+":status", err)
}

// Shell opens an interactive shell in a service: bash, or sh when the image has no bash.
func (h *Host) Shell(ctx context.Context, in *Instance, lc config.Lifecycle, service string) error {
	if err := h.composeFileCheck(in); err != nil {
		return err
	}
	if err := h.CheckDocker(ctx); err != nil {
		return err
	}
	if service == "" {
		service = "backend"
	}
	p := h.Project(in, lc, nil)
	// Probe for bash without stdin: a failed exec would already have consumed what the
	// user piped in.
	shell := "bash"
	var ee *execx.ExitError
	if err := p.Exec(ctx, service, []string{"bash", "-c", "exit 0"}, false, nil, io.Discard, io.Discard); errors.As(err, &ee) && (ee.Code == 126 || ee.Code == 127) {
		shell = "sh"
	}
	if err := p.Exec(ctx, service, []string{shell}, h.Terminal, h.In, h.Out, h.Err); err != nil {
		return fail.With(fail.CodeError, fmt.Sprintf("Is %s running? See: go tool mage %s:status", service, prefix(lc)), err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func prefix(lc config.Lifecycle) string {
	if lc.Kind == config.KindLocalProd {
		return "localProd"
	}
	return "sandbox"
}
