package core

import "github.com/ktrdr/sandbox/pkg/compose"

// State is what an instance is doing, as list, status and doctor report it in JSON.
type State string

const (
	Running    State = "running"     // every container runs, none unhealthy
	Partial    State = "partial"     // some containers run, some do not
	Stopped    State = "stopped"     // containers exist, none runs
	NotStarted State = "not_started" // no container exists
	Missing    State = "missing"     // the registered directory is gone
	Broken     State = "broken"      // the directory is there but its env file is not usable
	Unhealthy  State = "unhealthy"   // containers run but one fails its health check
	Unknown    State = "unknown"     // Docker could not be asked
	// Unreachable: the instance's remote engine cannot be reached over SSH.
	Unreachable State = "unreachable"
)

// StateOf reads a state from a project's container counts.
func StateOf(c compose.Counts) State {
	switch {
	case c.Total == 0:
		return NotStarted
	case c.Running == 0:
		return Stopped
	case c.Unhealthy > 0:
		return Unhealthy
	case c.Running < c.Total:
		return Partial
	}
	return Running
}
