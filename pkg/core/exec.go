package core

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/fail"
)

// Shell opens an interactive shell in a service (the table's default service when none
// is named): bash, or sh when the image has no bash.
func (e *Env) Shell(ctx context.Context, kind config.Kind, service string) error {
	in, err := e.Current(kind)
	if err != nil {
		return err
	}
	service, err = e.serviceOr(service, fail.Run("Name the service (one of "+e.Config.ComposeFile+"'s): %s", fail.Do(fail.Sandbox, "shell", "-service=NAME")))
	if err != nil {
		return err
	}
	return e.on(ctx, in.Engine, false, func(e *Env) error { return e.shellHere(ctx, kind, in, service) })
}

// shellHere is shell on an Env bound to the instance's engine.
func (e *Env) shellHere(ctx context.Context, kind config.Kind, in *Instance, service string) error {
	if err := e.ready(ctx, in); err != nil {
		return err
	}
	p := e.project(in, e.Config.Lifecycle(kind), nil)
	// Probe for bash without stdin: a failed exec would already have consumed what the
	// user piped in.
	shell := "bash"
	var ee *execx.ExitError
	if err := e.Docker.Exec(ctx, p, service, []string{"bash", "-c", "exit 0"}, false, nil, io.Discard, io.Discard); errors.As(err, &ee) && (ee.Code == 126 || ee.Code == 127) {
		shell = "sh"
	}
	if err := e.Docker.Exec(ctx, p, service, []string{shell}, e.Terminal, e.In, e.Out, e.Err); err != nil {
		return fail.With(fail.CodeError, fail.Run(fmt.Sprintf("Is %s running? See: %%s", service), fail.Do(string(kind), "status", "")), err)
	}
	return nil
}

// ExecOptions are what Exec runs and where its output goes.
type ExecOptions struct {
	Service string   // the table's default service when empty
	Command []string // run as is: no shell, no expansion
	Out     io.Writer
	Err     io.Writer
}

// ExecResult is how a command run by Exec ended.
type ExecResult struct {
	Service  string `json:"service"`
	ExitCode int    `json:"exit_code"`
}

// Exec runs a command in a running service of the instance of kind, without a terminal
// and without input: how an agent runs the tests inside a backend. A command that ran
// and failed is a result with its exit code, not an error; one that could not run is.
func (e *Env) Exec(ctx context.Context, kind config.Kind, o ExecOptions) (ExecResult, error) {
	in, err := e.Current(kind)
	if err != nil {
		return ExecResult{}, err
	}
	if o.Service, err = e.serviceOr(o.Service, fail.Run("Name the service (one of "+e.Config.ComposeFile+"'s; see %s)", fail.Do(string(kind), "status", ""))); err != nil {
		return ExecResult{}, err
	}
	if len(o.Command) == 0 {
		return ExecResult{}, fail.New(fail.CodeUsage, fail.Say("Give the command as a list of words, e.g. [\"go\", \"test\", \"./...\"]"), "no command given")
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	res := ExecResult{Service: o.Service}
	err = e.on(ctx, in.Engine, false, func(e *Env) error {
		if err := e.ready(ctx, in); err != nil {
			return err
		}
		if err := e.serviceRunning(ctx, kind, in, o.Service); err != nil {
			return err
		}
		p := e.project(in, e.Config.Lifecycle(kind), nil)
		return e.Docker.Exec(ctx, p, o.Service, o.Command, false, nil, o.Out, o.Err)
	})
	var ee *execx.ExitError
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() == nil && errors.As(err, &ee) && ee.Code != 126 && ee.Code != 127 && ee.Code != 125:
		res.ExitCode = ee.Code
		return res, nil
	case fail.FixOf(err).IsZero():
		return res, fail.With(fail.CodeError, fail.Run(fmt.Sprintf("Is %s running, and is the command in its image? See: %%s", o.Service), fail.Do(string(kind), "status", "")), err)
	}
	return res, err
}

// serviceRunning refuses a service with no running container: compose exec would exit 1,
// which a caller cannot tell from the command's own failure.
func (e *Env) serviceRunning(ctx context.Context, kind config.Kind, in *Instance, service string) error {
	cs, err := e.Docker.Containers(ctx, e.Config.ComposeProjectLabel, in.ID)
	if err != nil {
		return e.dockerFailed(ctx, err)
	}
	for _, c := range cs {
		if c.Service == service && c.State == "running" {
			return nil
		}
	}
	return fail.New(fail.CodeError, fail.Run("Start it with %s, or see what runs: %s", fail.Do(string(kind), "up", ""), fail.Do(string(kind), "status", "")),
		"service %s of %s is not running", service, in.ID)
}

// serviceOr is service, or the table's default service when none is named; with neither,
// a usage error whose remedy is fix.
func (e *Env) serviceOr(service string, fix fail.Remedy) (string, error) {
	if service == "" {
		service = e.Config.DefaultService
	}
	if service == "" {
		return "", fail.New(fail.CodeUsage, fix, "no service given and the configuration has no default service")
	}
	return service, nil
}
