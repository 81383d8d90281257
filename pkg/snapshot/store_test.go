package snapshot

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ktrdr/sandbox/pkg/shared"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// putSnapshot writes a complete snapshot the way Take leaves one: a directory holding
// its manifest (the volume files do not matter to listing and deleting).
func putSnapshot(t *testing.T, s Store, instance, name string, created time.Time, vols ...VolumeEntry) {
	t.Helper()
	m := Manifest{Name: name, Instance: instance, Project: instance, CreatedAt: created, Volumes: vols, Version: 1}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(s.Dir(instance, name), ManifestFile), string(b))
}

func names(ms []Manifest) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Instance + "/" + m.Name
	}
	return out
}

// tree lists every path under dir with the content of its files, to show that an
// operation changed nothing there.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel += "=" + string(b)
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestListOnlyCompleteSnapshotsNewestFirst(t *testing.T) {
	s := Store{Root: t.TempDir()}
	putSnapshot(t, s, "acme--a", "old", t0)
	putSnapshot(t, s, "acme--a", "new", t0.Add(2*time.Hour))
	putSnapshot(t, s, "acme--b", "middle", t0.Add(time.Hour))
	// what a snapshot cut short leaves: a directory without a manifest, and the hidden
	// directory Take writes into (even one whose manifest is already written)
	if err := os.MkdirAll(s.Dir("acme--a", "cut-short"), 0o700); err != nil {
		t.Fatal(err)
	}
	putSnapshot(t, s, "acme--a", ".tmp-late-123", t0.Add(3*time.Hour))
	// neither a file beside the snapshots nor a directory no snapshot could be named
	mustWrite(t, filepath.Join(s.Root, "acme--a", "notes.txt"), "x")
	putSnapshot(t, s, "acme--a", "not a name", t0.Add(4*time.Hour))
	// nor a file at the top, where instance directories live
	mustWrite(t, filepath.Join(s.Root, "stray"), "x")

	tests := []struct {
		instance string
		want     []string
	}{
		{"acme--a", []string{"acme--a/new", "acme--a/old"}},
		{"acme--b", []string{"acme--b/middle"}},
		{"", []string{"acme--a/new", "acme--b/middle", "acme--a/old"}},
		{"acme--never", []string{}},
	}
	for _, tt := range tests {
		t.Run("instance="+tt.instance, func(t *testing.T) {
			got, err := s.List(tt.instance)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(names(got), " ") != strings.Join(tt.want, " ") {
				t.Errorf("List(%q) = %v, want %v", tt.instance, names(got), tt.want)
			}
			for _, m := range got {
				if m.Dir != s.Dir(m.Instance, m.Name) {
					t.Errorf("%s: Dir = %q", m.Name, m.Dir)
				}
			}
		})
	}
}

func TestListOfAStoreNotYetCreated(t *testing.T) {
	s := Store{Root: filepath.Join(t.TempDir(), "snapshots")}
	for _, instance := range []string{"", "acme--a"} {
		got, err := s.List(instance)
		if err != nil || len(got) != 0 {
			t.Errorf("List(%q) = %v, %v; want nothing and no error", instance, got, err)
		}
	}
}

func TestLoad(t *testing.T) {
	s := Store{Root: t.TempDir()}
	vols := []VolumeEntry{{Volume: Volume{Name: "acme--a_db", Short: "db"}, File: "db.tar.zst", TarBytes: 10, StoredBytes: 4, CRC32C: "0a0b0c0d"}}
	putSnapshot(t, s, "acme--a", "good", t0, vols...)
	mustWrite(t, filepath.Join(s.Dir("acme--a", "broken"), ManifestFile), "{not json")

	m, err := s.Load("acme--a", "good")
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "good" || m.Instance != "acme--a" || !m.CreatedAt.Equal(t0) || m.Dir != s.Dir("acme--a", "good") || len(m.Volumes) != 1 || m.Volumes[0] != vols[0] {
		t.Errorf("Load = %+v", m)
	}

	if _, err := s.Load("acme--a", "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing snapshot: %v, want ErrNotFound", err)
	}
	// a snapshot cut short is as good as missing
	if err := os.MkdirAll(s.Dir("acme--a", "cut-short"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("acme--a", "cut-short"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a snapshot without manifest: %v, want ErrNotFound", err)
	}
	_, err = s.Load("acme--a", "broken")
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), filepath.Join(s.Dir("acme--a", "broken"), ManifestFile)) {
		t.Errorf("a broken manifest: %v, want an error naming the file", err)
	}
}

func TestManifestJSONFieldNames(t *testing.T) {
	// The manifest is read back by later versions of the tool: its field names are a format.
	m := Manifest{Name: "n", Instance: "i", Project: "p", CreatedAt: t0, Version: 1, Dir: "/not/written",
		Volumes: []VolumeEntry{{Volume: Volume{Name: "p_db", Short: "db", Size: 99}, File: "db.tar.zst", TarBytes: 1, StoredBytes: 2, CRC32C: "c"}}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"n","instance":"i","compose_project":"p","created_at":"2026-03-01T12:00:00Z",` +
		`"volumes":[{"name":"p_db","short":"db","file":"db.tar.zst","tar_bytes":1,"stored_bytes":2,"crc32c":"c"}],"version":1}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestManifestStoredBytes(t *testing.T) {
	m := Manifest{Volumes: []VolumeEntry{{StoredBytes: 3}, {StoredBytes: 4}, {}}}
	if got := m.StoredBytes(); got != 7 {
		t.Errorf("StoredBytes = %d, want 7", got)
	}
	if got := (Manifest{}).StoredBytes(); got != 0 {
		t.Errorf("no volumes: %d", got)
	}
}

func TestDelete(t *testing.T) {
	s := Store{Root: t.TempDir()}
	putSnapshot(t, s, "acme--a", "gone", t0)
	putSnapshot(t, s, "acme--a", "kept", t0)
	mustWrite(t, filepath.Join(s.Dir("acme--a", "gone"), "db.tar.zst"), "data")

	if err := s.Delete("acme--a", "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir("acme--a", "gone")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the snapshot's directory is still there: %v", err)
	}
	if got, _ := s.List("acme--a"); strings.Join(names(got), " ") != "acme--a/kept" {
		t.Errorf("after delete: %v", names(got))
	}
	if err := s.Delete("acme--a", "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting it again: %v, want ErrNotFound", err)
	}
	// Delete only removes what Load would find: a directory without a manifest is left
	// for whoever may still be writing it.
	mustWrite(t, filepath.Join(s.Dir("acme--a", "partial"), "db.tar.zst"), "half")
	if err := s.Delete("acme--a", "partial"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting an unfinished snapshot: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir("acme--a", "partial"), "db.tar.zst")); err != nil {
		t.Errorf("an unfinished snapshot was removed: %v", err)
	}
}

func TestRestoreJournal(t *testing.T) {
	s := Store{Root: filepath.Join(t.TempDir(), "snapshots")} // not created yet
	if name, ok := s.Interrupted("acme--a"); ok {
		t.Fatalf("no restore begun, yet Interrupted = %q", name)
	}
	if err := s.EndRestore("acme--a"); err != nil {
		t.Errorf("ending a restore never begun: %v", err)
	}
	if err := s.BeginRestore("acme--a", "before-migration"); err != nil {
		t.Fatal(err)
	}
	if name, ok := s.Interrupted("acme--a"); !ok || name != "before-migration" {
		t.Errorf("Interrupted = %q, %v; want before-migration, true", name, ok)
	}
	if _, ok := s.Interrupted("acme--b"); ok {
		t.Error("another instance's restore counts for this one")
	}
	// the journal sits beside the snapshots and is never listed as one
	putSnapshot(t, s, "acme--a", "before-migration", t0)
	if got, _ := s.List(""); strings.Join(names(got), " ") != "acme--a/before-migration" {
		t.Errorf("List with a journal present: %v", names(got))
	}
	// a second restore of the same instance overwrites the mark
	if err := s.BeginRestore("acme--a", "weekly"); err != nil {
		t.Fatal(err)
	}
	if name, _ := s.Interrupted("acme--a"); name != "weekly" {
		t.Errorf("after a second begin: %q", name)
	}
	if err := s.EndRestore("acme--a"); err != nil {
		t.Fatal(err)
	}
	if name, ok := s.Interrupted("acme--a"); ok {
		t.Errorf("ended, yet Interrupted = %q", name)
	}
	if err := s.EndRestore("acme--a"); err != nil {
		t.Errorf("ending twice: %v", err)
	}
	// a journal written with another line ending still names the snapshot
	mustWrite(t, s.journal("acme--c"), "nightly\r\n")
	if name, ok := s.Interrupted("acme--c"); !ok || name != "nightly" {
		t.Errorf("CRLF journal: %q, %v", name, ok)
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"before-migration", true},
		{"20260301-120000", true},
		{"A.b_c-1", true},
		{"x" + strings.Repeat("y", 63), true},
		{"x" + strings.Repeat("y", 64), false},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"-flag", false},
		{"_x", false},
		{"a b", false},
		{"a/b", false},
		{`a\b`, false},
		{"../x", false},
		{"a\x00b", false},
		{"a\n", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := CheckName(tt.name)
		if tt.ok && err != nil {
			t.Errorf("CheckName(%q) = %v, want ok", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", tt.name, err)
		}
	}
}

func TestCheckInstance(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"ktrdr--feat-x", true},
		{"ktrdr-prod", true},
		{"acme--a.b_c", true},
		{"with space", true}, // ids are the registry's; only leaving the store is refused
		{"a..b", true},
		{".hidden", true},
		{"", false},
		{".", false},
		{"..", false},
		{"...", false},
		{"..x", false},
		{"../x", false},
		{"ktrdr--../..", false},
		{"a/b", false},
		{"/abs", false},
		{`a\b`, false},
		{`..\x`, false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		err := CheckInstance(tt.id)
		if tt.ok && err != nil {
			t.Errorf("CheckInstance(%q) = %v, want ok", tt.id, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadName) {
			t.Errorf("CheckInstance(%q) = %v, want ErrBadName", tt.id, err)
		}
	}
}

func TestBadNameMessages(t *testing.T) {
	if err := CheckName("a b"); err == nil || err.Error() != `snapshot name "a b": not a plain name: use up to 64 letters, digits, dots, dashes and underscores` {
		t.Errorf("CheckName: %v", err)
	}
	if err := CheckInstance("../x"); err == nil || !strings.HasPrefix(err.Error(), `instance id "../x": not a plain name: `) {
		t.Errorf("CheckInstance: %v", err)
	}
}

// TestTraversalStaysInTheStore puts a snapshot-shaped directory, with a restore journal,
// beside the store, and points every Store method at it with ids and names that climb out.
// Before ids were checked, Delete("..", "victim") removed it.
func TestTraversalStaysInTheStore(t *testing.T) {
	base := t.TempDir()
	s := Store{Root: filepath.Join(base, "store")}
	putSnapshot(t, s, "acme--a", "mine", t0)
	victim := filepath.Join(base, "victim")
	mustWrite(t, filepath.Join(victim, "keep.txt"), "precious")
	mustWrite(t, filepath.Join(victim, ManifestFile), `{"name":"victim"}`)
	mustWrite(t, filepath.Join(victim, ".restoring"), "victim\n")
	mustWrite(t, filepath.Join(victim, "victim", ManifestFile), `{"name":"victim"}`)
	before := tree(t, base)

	tests := []struct{ instance, name string }{
		{"..", "victim"},             // store/../victim
		{"../victim", "victim"},      // store/../victim/victim
		{"acme--../../..", "victim"}, // a -from= that starts with the id prefix
		{"acme--a/../..", "victim"},
		{`..\victim`, "victim"},
		{"", "victim"},
		{".", "victim"},
		{"acme--a", "../../victim"},
		{"acme--a", ".."},
		{"acme--a", "x/../../../victim"},
		{"acme--a", ""},
		{"acme--a", "a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.instance+"|"+tt.name, func(t *testing.T) {
			bad := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrBadName) {
					t.Errorf("%s: %v, want ErrBadName", what, err)
				}
			}
			bad("Delete", s.Delete(tt.instance, tt.name))
			_, err := s.Load(tt.instance, tt.name)
			bad("Load", err)
			bad("BeginRestore", s.BeginRestore(tt.instance, tt.name))
			_, err = s.Take(context.Background(), Docker{}, "img", tt.instance, "p", tt.name, nil, t0, nil, Quiesce{Pause: func() error { return nil }, Thaw: func() {}})
			bad("Take", err)
			if CheckInstance(tt.instance) != nil { // the methods that take only the id
				if tt.instance != "" { // "" asks List for every instance
					_, err = s.List(tt.instance)
					bad("List", err)
				}
				bad("EndRestore", s.EndRestore(tt.instance))
				if name, ok := s.Interrupted(tt.instance); ok {
					t.Errorf("Interrupted read a journal outside the store: %q", name)
				}
			}
			if after := tree(t, base); after != before {
				t.Errorf("the tree changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
	// what is inside the store is still reachable
	if got, err := s.List(""); err != nil || strings.Join(names(got), " ") != "acme--a/mine" {
		t.Errorf("List after: %v, %v", names(got), err)
	}
}

// recordingMeter is a shared.Progress that adds up what it is told.
type recordingMeter struct {
	mu              sync.Mutex
	total, added    int64
	started, closed int
}

func (m *recordingMeter) Start(s shared.Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started++
	m.total = s.Bytes
}

func (m *recordingMeter) Add(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.added += n
}

func (m *recordingMeter) Finish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed++
}

func TestTakeWithNoVolumesWritesOnlyTheManifest(t *testing.T) {
	// No volume means no docker call: the rename into place and the manifest can be
	// checked without an engine.
	s := Store{Root: t.TempDir(), Step: func(string) { t.Error("Step called without a volume") }}
	now := t0.In(time.FixedZone("CET", 3600))
	m, err := s.Take(context.Background(), Docker{}, "img", "acme--a", "acme--a", "empty", nil, now, nil, Quiesce{Pause: func() error { return nil }, Thaw: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != s.Dir("acme--a", "empty") || m.Version != 1 || m.CreatedAt.Location() != time.UTC || !m.CreatedAt.Equal(t0) {
		t.Errorf("Take = %+v", m)
	}
	loaded, err := s.Load("acme--a", "empty")
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Name != "empty" || loaded.Project != "acme--a" || !loaded.CreatedAt.Equal(t0) {
		t.Errorf("Load = %+v", loaded)
	}
	if _, err := s.Take(context.Background(), Docker{}, "img", "acme--a", "acme--a", "empty", nil, now, nil, Quiesce{Pause: func() error { return nil }, Thaw: func() {}}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second Take of the same name: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Root, "acme--a"))
	if len(entries) != 1 || entries[0].Name() != "empty" {
		t.Errorf("the instance directory holds %v; want the snapshot alone", entries)
	}
}

func TestWriteBehindWritesEverything(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &writeBehind{f: f}
	want := make([]byte, 0, 2*writeBehindChunk+3)
	piece := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	for len(want)+len(piece) <= 2*writeBehindChunk {
		n, err := w.Write(piece)
		if err != nil || n != len(piece) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		want = append(want, piece...)
	}
	if _, err := w.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "end"...)
	// writeback was started for each whole chunk, not for the tail
	if w.off != int64(len(want)) || w.flushed != 2*writeBehindChunk {
		t.Errorf("off %d flushed %d; want %d and %d", w.off, w.flushed, len(want), 2*writeBehindChunk)
	}
	if err := durable(f); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the file holds %d bytes, not the %d written", len(got), len(want))
	}
}

// onlyReader hides every method but Read, as io.Copy's fallback sees a reader.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestCountersReportWhatPasses(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100_000)

	var sink bytes.Buffer
	meter := &recordingMeter{}
	c := &counter{w: &sink, meter: meter}
	if _, err := io.Copy(c, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if c.n != int64(len(data)) || meter.added != c.n || sink.Len() != len(data) {
		t.Errorf("counter: n %d, meter %d, written %d", c.n, meter.added, sink.Len())
	}
	// a counter without a meter only counts
	quiet := &counter{w: io.Discard}
	_, _ = quiet.Write(data[:10])
	if quiet.n != 10 {
		t.Errorf("counter without meter: %d", quiet.n)
	}

	for _, tt := range []struct {
		name string
		r    io.Reader
	}{
		{"from a WriterTo", bytes.NewReader(data)}, // the decoder's whole blocks
		{"from a plain reader", onlyReader{bytes.NewReader(data)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			meter := &recordingMeter{}
			var out bytes.Buffer
			n, err := (&readCounter{r: tt.r, meter: meter}).WriteTo(&out)
			if err != nil || n != int64(len(data)) || meter.added != n || !bytes.Equal(out.Bytes(), data) {
				t.Errorf("WriteTo = %d, %v; meter %d; copied %d", n, err, meter.added, out.Len())
			}
		})
	}
	meter = &recordingMeter{}
	got, err := io.ReadAll(&readCounter{r: bytes.NewReader(data), meter: meter})
	if err != nil || len(got) != len(data) || meter.added != int64(len(data)) {
		t.Errorf("Read: %d bytes, %v; meter %d", len(got), err, meter.added)
	}
}

func TestScaledMeterReportsTarBytes(t *testing.T) {
	// zstd's input is counted in compressed bytes; the bar is in the volume's bytes
	meter := &recordingMeter{}
	sm := &scaledMeter{Progress: meter, num: 1000, den: 250}
	sm.Add(25)
	sm.Add(225)
	if meter.added != 1000 {
		t.Errorf("scaled to %d, want 1000", meter.added)
	}
}

func TestTrimNL(t *testing.T) {
	for in, want := range map[string]string{"a\n": "a", "a\r\n": "a", "a\n\n": "a", "a": "a", "": "", "\n": "", "a\nb\n": "a\nb"} {
		if got := string(trimNL([]byte(in))); got != want {
			t.Errorf("trimNL(%q) = %q, want %q", in, got, want)
		}
	}
}

// The zstd command writes the snapshot's file itself; what is recorded of it (its size
// and CRC-32C) is read back from the file as it grows, and must be the whole file's.
func TestTheCompressedFileIsCountedAndChecksummedAsWritten(t *testing.T) {
	for _, withCLI := range []bool{true, false} {
		if !withCLI {
			t.Setenv("PATH", t.TempDir()) // no zstd command: the in-process encoder
		} else if _, err := exec.LookPath("zstd"); err != nil {
			t.Log("no zstd command here: only the in-process encoder is tried")
			continue
		}
		f, err := os.OpenFile(filepath.Join(t.TempDir(), "v.tar.zst"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		zw, stored, err := compressInto(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		rnd := rand.NewChaCha8([32]byte{1})
		var want bytes.Buffer
		for i := 0; i < 24; i++ { // 24 MiB, half incompressible, written over > followEvery
			piece := make([]byte, 1<<20)
			if i%2 == 0 {
				_, _ = rnd.Read(piece)
			}
			want.Write(piece)
			if _, err := zw.Write(piece); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		n, sum, err := stored()
		if err != nil {
			t.Fatal(err)
		}
		onDisk, _ := os.ReadFile(f.Name())
		f.Close()
		h := crc32.New(castagnoli)
		h.Write(onDisk)
		if n != int64(len(onDisk)) || sum != hex.EncodeToString(h.Sum(nil)) {
			t.Errorf("zstd command %v: recorded %d bytes, CRC %s; the file has %d, CRC %x", withCLI, n, sum, len(onDisk), h.Sum(nil))
		}
		dec, err := zstd.NewReader(bytes.NewReader(onDisk))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(dec)
		dec.Close()
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("zstd command %v: the file does not decompress to what was written (%v)", withCLI, err)
		}
	}
}
