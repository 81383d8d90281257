package stats

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/ktrdr/sandbox/pkg/atomicfile"
)

// History is the file of what each instance used when it ran: the most memory seen during
// its last run, so `up` can tell before starting it what it will add to the engine. A
// new run (StartRun) keeps the old figure until the first measurement of the new run
// replaces it: a stack that once spiked is not held to that spike forever.
// Figures are a guide, not a ledger: two commands writing at once may lose one
// observation, never the file.
type History struct{ Path string }

// Seen is what one instance was seen using.
type Seen struct {
	MemBytes int64     `json:"mem_bytes"` // the most seen during its last measured run
	At       time.Time `json:"at"`        // when that figure was seen
	// RunStarted is when the instance was last started; a figure older than it belongs
	// to an earlier run.
	RunStarted time.Time `json:"run_started,omitzero"`
}

type historyFile struct {
	Version   int             `json:"version"`
	Instances map[string]Seen `json:"instances"`
}

// Load reads the file; a missing or unreadable one is an empty history (it only ever
// makes `up` warn instead of check).
func (h History) Load() map[string]Seen {
	var f historyFile
	b, err := os.ReadFile(h.Path)
	if err != nil || json.Unmarshal(b, &f) != nil || f.Instances == nil {
		return map[string]Seen{}
	}
	return f.Instances
}

// Record keeps, for each running instance in now, the larger of its figure and what it
// uses now. Instances with no running container are not figures of a run.
func (h History) Record(now map[string]Usage, at time.Time) error {
	seen := h.Load()
	changed := false
	for id, u := range now {
		if u.Containers == 0 || u.MemBytes <= 0 {
			continue
		}
		prev, ok := seen[id]
		if !ok || prev.At.Before(prev.RunStarted) || u.MemBytes > prev.MemBytes {
			seen[id] = Seen{MemBytes: u.MemBytes, At: at.UTC(), RunStarted: prev.RunStarted}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return h.write(seen)
}

// StartRun marks the start of a new run of an instance: its figure stands until the
// first measurement of the new run.
func (h History) StartRun(id string, at time.Time) error {
	seen := h.Load()
	s := seen[id]
	s.RunStarted = at.UTC()
	seen[id] = s
	return h.write(seen)
}

// Forget drops an instance's figures (it was destroyed).
func (h History) Forget(id string) error {
	seen := h.Load()
	if _, ok := seen[id]; !ok {
		return nil
	}
	delete(seen, id)
	return h.write(seen)
}

func (h History) write(seen map[string]Seen) error {
	b, err := json.MarshalIndent(historyFile{Version: 1, Instances: seen}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return atomicfile.WriteFile(h.Path, append(b, '\n'), 0o644)
}
