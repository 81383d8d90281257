package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/ktrdr/sandbox/pkg/atomicfile"
)

// Records is the file of which engine each instance runs on (engines.json beside the
// registry). It is not in the registry: the KTRDR original's loader rejects any unknown
// field inside an instance object and then empties the whole file. An instance missing
// here runs on the local engine, so a registry written by the original needs nothing.
// Writers hold the registry's lock, which serializes them.
type Records struct{ Path string }

type recordsFile struct {
	Version   int               `json:"version"`
	Instances map[string]Engine `json:"instances"`
}

// Load reads the instance → engine map; a missing file is an empty map, a broken one an
// error naming the file (never read as "all local").
func (r Records) Load() (map[string]Engine, error) {
	b, err := os.ReadFile(r.Path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Engine{}, nil
	}
	if err != nil {
		return nil, err
	}
	var f recordsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	if f.Instances == nil {
		f.Instances = map[string]Engine{}
	}
	return f.Instances, nil
}

// Set records an instance's engine, or forgets it when eng is the local engine.
func (r Records) Set(id string, eng Engine) error {
	m, err := r.Load()
	if err != nil {
		return err
	}
	if eng.Local() {
		if _, ok := m[id]; !ok {
			return nil
		}
		delete(m, id)
	} else {
		m[id] = eng
	}
	b, err := json.MarshalIndent(recordsFile{Version: 1, Instances: m}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(r.Path, append(b, '\n'), 0o644)
}
