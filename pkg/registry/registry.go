package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/atomicfile"

	"github.com/ktrdr/sandbox/pkg/lock"
)

// Instance is one registered instance.
type Instance struct {
	InstanceID string  `json:"instance_id"`
	Slot       int     `json:"slot"`
	Path       string  `json:"path"`
	CreatedAt  string  `json:"created_at"`
	IsWorktree bool    `json:"is_worktree"`
	ParentRepo *string `json:"parent_repo"`
	// Extra holds fields written by other tools or newer versions, kept on save.
	Extra map[string]json.RawMessage `json:"-"`
}

// File is the whole registry.
type File struct {
	Version   int
	LocalProd *Instance
	Instances map[string]*Instance
	Extra     map[string]json.RawMessage
}

// New returns an empty registry of the current version.
func New() *File {
	return &File{Version: 1, Instances: map[string]*Instance{}}
}

// Sorted returns the sandbox instances in natural id order: x--d2 before x--d10.
func (f *File) Sorted() []*Instance {
	out := make([]*Instance, 0, len(f.Instances))
	for _, in := range f.Instances {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return NaturalLess(out[i].InstanceID, out[j].InstanceID) })
	return out
}

// NaturalLess orders strings as people number things: runs of digits compare by value
// ("d2" < "d10"), everything else byte by byte.
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if da != db { // equal values: fewer leading zeros first
				return da < db
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// SlotHolders maps each slot to the ids of the instances (local-prod included) on it.
// More than one id on a slot means the file was edited by hand or by a broken tool.
func (f *File) SlotHolders() map[int][]string {
	m := map[int][]string{}
	for _, in := range f.Sorted() {
		m[in.Slot] = append(m[in.Slot], in.InstanceID)
	}
	if f.LocalProd != nil {
		m[f.LocalProd.Slot] = append(m[f.LocalProd.Slot], f.LocalProd.InstanceID)
	}
	return m
}

// Claim is a slot and the ids of the instances that claim it.
type Claim struct {
	Slot int
	IDs  []string
}

// ContestedSlots lists, in slot order, the slots claimed by more than one instance.
func (f *File) ContestedSlots() []Claim {
	var out []Claim
	for slot, ids := range f.SlotHolders() {
		if len(ids) > 1 {
			out = append(out, Claim{Slot: slot, IDs: ids})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out
}

// ByPath finds the sandbox registered at dir (compared after resolving symlinks).
func (f *File) ByPath(dir string) *Instance {
	want := canonical(dir)
	for _, in := range f.Sorted() {
		if canonical(in.Path) == want {
			return in
		}
	}
	return nil
}

// IsLocalProdPath reports whether dir is the registered local-prod clone.
func (f *File) IsLocalProdPath(dir string) bool {
	return f.LocalProd != nil && SamePath(f.LocalProd.Path, dir)
}

// SamePath reports whether a and b name the same directory once symlinks are resolved
// (a path that does not resolve is compared as written, cleaned).
func SamePath(a, b string) bool { return canonical(a) == canonical(b) }

func canonical(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// Store is the registry at one path.
type Store struct {
	Path string
	// LockWait bounds how long a writer waits for another; past it, ErrBusy.
	LockWait time.Duration
}

// ErrBusy is returned when another process holds the lock longer than LockWait.
var ErrBusy = errors.New("registry is busy")

// ErrCorrupt wraps every parse or type error.
var ErrCorrupt = errors.New("unreadable")

// Load reads the registry; a missing file is an empty registry.
func (s Store) Load() (*File, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", s.Path, err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", s.Path, err)
	}
	return f, nil
}

// Update runs fn on the current registry under the lock and saves what fn leaves, unless
// fn returns an error, in which case nothing is written.
func (s Store) Update(ctx context.Context, fn func(*File) error) error {
	return s.UpdateThen(ctx, fn, nil)
}

// UpdateThen is Update followed, still under the lock and only once the registry is
// written, by then: for a file that must change after the registry (a record the
// registry no longer points to), never before it.
func (s Store) UpdateThen(ctx context.Context, fn func(*File) error, then func()) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := s.Load()
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	data, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("registry %s: %w", s.Path, err)
	}
	if err := atomicfile.WriteFile(s.Path, data, 0o644); err != nil {
		return fmt.Errorf("registry %s: write: %w", s.Path, err)
	}
	if then != nil {
		then()
	}
	return nil
}

func (s Store) lock(ctx context.Context) (func(), error) {
	wait := s.LockWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	release, err := lock.Acquire(ctx, s.Path+".lock", wait, "registry")
	var busy *lock.BusyError
	switch {
	case errors.As(err, &busy):
		holder := "another process"
		if busy.HolderPID > 0 {
			holder = fmt.Sprintf("pid %d", busy.HolderPID)
		}
		return nil, fmt.Errorf("%w (held by %s for over %s; retry, or check that process)", ErrBusy, holder, wait)
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("registry %s: %w", s.Path, ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("registry %s: %w", s.Path, err)
	}
	return release, nil
}

// Parse decodes a registry file, checking every known field's type.
func Parse(data []byte) (*File, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: file is empty", ErrCorrupt)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, describeJSONError(data, err)
	}
	if top == nil {
		return nil, fmt.Errorf("%w: top level is null, want an object", ErrCorrupt)
	}
	f := New()
	if raw, ok := top["version"]; ok {
		if err := json.Unmarshal(raw, &f.Version); err != nil {
			return nil, fmt.Errorf("%w: \"version\" must be a whole number", ErrCorrupt)
		}
		delete(top, "version")
	}
	if raw, ok := top["local_prod"]; ok {
		if string(bytes.TrimSpace(raw)) != "null" {
			in, err := parseInstance(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: \"local_prod\": %v", ErrCorrupt, err)
			}
			f.LocalProd = in
		}
		delete(top, "local_prod")
	}
	if raw, ok := top["instances"]; ok {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%w: \"instances\" must be an object of instances", ErrCorrupt)
		}
		for id, r := range m {
			in, err := parseInstance(r)
			if err != nil {
				return nil, fmt.Errorf("%w: instance %q: %v", ErrCorrupt, id, err)
			}
			if in.InstanceID == "" {
				in.InstanceID = id
			}
			f.Instances[id] = in
		}
		delete(top, "instances")
	}
	if len(top) > 0 {
		f.Extra = top
	}
	return f, nil
}

func parseInstance(raw json.RawMessage) (*Instance, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("must be an object")
	}
	in := &Instance{}
	fields := []struct {
		key string
		dst any
	}{
		{"instance_id", &in.InstanceID},
		{"slot", &in.Slot},
		{"path", &in.Path},
		{"created_at", &in.CreatedAt},
		{"is_worktree", &in.IsWorktree},
		{"parent_repo", &in.ParentRepo},
	}
	for _, fd := range fields {
		r, ok := m[fd.key]
		if !ok {
			continue
		}
		if err := json.Unmarshal(r, fd.dst); err != nil {
			return nil, fmt.Errorf("field %q has the wrong type (%s)", fd.key, strings.TrimSpace(string(r)))
		}
		delete(m, fd.key)
	}
	if in.Path == "" {
		return nil, errors.New("field \"path\" is missing or empty")
	}
	if len(m) > 0 {
		in.Extra = m
	}
	return in, nil
}

func describeJSONError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("%w: line %d: invalid JSON (%v)", ErrCorrupt, line, se)
	case errors.As(err, &te):
		return fmt.Errorf("%w: top level must be an object, found %s", ErrCorrupt, te.Value)
	}
	return fmt.Errorf("%w: invalid JSON (%v)", ErrCorrupt, err)
}

// Marshal encodes the registry as KTRDR writes it: two-space indent, "version",
// "local_prod" and "instances" first, then any fields of other tools, sorted.
func (f *File) Marshal() ([]byte, error) {
	var lp any
	if f.LocalProd != nil {
		lp = f.LocalProd.object()
	}
	inst := map[string]any{}
	for id, in := range f.Instances {
		inst[id] = in.object()
	}
	var b bytes.Buffer
	b.WriteByte('{')
	write := func(key string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		val, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
		return nil
	}
	for _, kv := range []struct {
		k string
		v any
	}{{"version", f.Version}, {"local_prod", lp}, {"instances", inst}} {
		if err := write(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	extra := make([]string, 0, len(f.Extra))
	for k := range f.Extra {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	for _, k := range extra {
		if err := write(k, f.Extra[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (in *Instance) object() map[string]any {
	m := map[string]any{}
	for k, v := range in.Extra {
		m[k] = v
	}
	m["instance_id"] = in.InstanceID
	m["slot"] = in.Slot
	m["path"] = in.Path
	m["created_at"] = in.CreatedAt
	m["is_worktree"] = in.IsWorktree
	m["parent_repo"] = in.ParentRepo
	return m
}
