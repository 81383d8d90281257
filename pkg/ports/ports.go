package ports

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ktrdr/sandbox/pkg/config"
)

// Busy returns the assignments whose port cannot be bound, skipping those in ignore
// (ports held by the instance's own containers).
func Busy(assignments []config.Assignment, ignore map[int]bool) []config.Assignment {
	var busy []config.Assignment
	for _, a := range assignments {
		if ignore[a.Host] {
			continue
		}
		if !Free(a.Host) {
			busy = append(busy, a)
		}
	}
	return busy
}

// Free reports whether 127.0.0.1:port can be bound right now.
func Free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// ConflictError names every busy port and its variable.
type ConflictError struct {
	Slot int
	Busy []config.Assignment
	// Where is the other host the ports are busy on ("engine ssh://…"); empty: here.
	Where string
}

func (e *ConflictError) Error() string {
	parts := make([]string, 0, len(e.Busy))
	for _, a := range e.Busy {
		parts = append(parts, fmt.Sprintf("%d (%s)", a.Host, a.Env))
	}
	where := ""
	if e.Where != "" {
		where = " on " + e.Where
	}
	return fmt.Sprintf("port(s) of slot %d in use%s: %s", e.Slot, where, strings.Join(parts, ", "))
}
