package core

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
)

// cannotExecEvery is how often the gate's watcher looks at the stack's containers: a
// container that cannot run its program dies within a second of starting.
const cannotExecEvery = time.Second

// cannotExecError ends a gate early: a container of the stack died because the engine
// cannot run its program's CPU. Waiting out the gate would only end in "connection refused".
type cannotExecError struct {
	service, line string
}

func (c *cannotExecError) Error() string {
	return fmt.Sprintf("service %s cannot run on this engine: %s", c.service, c.line)
}

// watchCannotExec looks at the instance's containers while the gate runs and calls stop
// with a *cannotExecError when one stopped (or restarts) saying "exec format error".
// Each stopped container's last log lines are read once; the watch ends with ctx.
func (e *Env) watchCannotExec(ctx context.Context, kind config.Kind, in *Instance, stop context.CancelCauseFunc) {
	_ = e.on(ctx, in.Engine, false, func(r *Env) error {
		read := map[string]bool{}
		p := r.project(in, e.Config.Lifecycle(kind), nil)
		tick := time.NewTicker(cannotExecEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			cs, err := r.Docker.Containers(ctx, e.Config.ComposeProjectLabel, in.ID)
			if err != nil {
				continue // the gate says what it sees; this watch only shortens it
			}
			for _, c := range cs {
				if (c.State != "exited" && c.State != "restarting") || read[c.Name] {
					continue
				}
				read[c.Name] = true
				var logs bytes.Buffer
				if r.Docker.Logs(ctx, p, c.Service, false, 5, &logs, &logs) != nil {
					continue
				}
				for _, line := range strings.Split(logs.String(), "\n") {
					if platform.CannotExec(line) {
						if _, said, ok := strings.Cut(line, "| "); ok {
							line = said // compose's "web-1  | " before what the container said
						}
						stop(&cannotExecError{service: c.Service, line: strings.TrimSpace(line)})
						return nil
					}
				}
			}
		}
	})
}

// rebuildFor is what to do about an image of another CPU than the engine runs (p, when
// the engine said).
func rebuildFor(p string) fail.Remedy {
	if p == "" {
		p = "the engine's platform"
	}
	return fail.Say("Its image is built for another CPU than the engine runs: build it for " + p +
		", or install emulation (Linux: qemu-user-static and binfmt-support; Docker Desktop has it)")
}
