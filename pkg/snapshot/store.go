package snapshot

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ktrdr/sandbox/pkg/atomicfile"

	"github.com/ktrdr/sandbox/pkg/shared"
)

// castagnoli is CRC-32C, computed by the CPU's own instruction: SHA-256 of the stored file
// cost a third of a snapshot's time on two cores, and zstd already checks every frame.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ManifestFile is written last: a snapshot directory without it is not a snapshot.
const ManifestFile = "manifest.json"

// Manifest describes one snapshot.
type Manifest struct {
	Name      string        `json:"name"`
	Instance  string        `json:"instance"`        // the instance it was taken of
	Project   string        `json:"compose_project"` // that instance's compose project
	CreatedAt time.Time     `json:"created_at"`
	Volumes   []VolumeEntry `json:"volumes"`
	Version   int           `json:"version"`
	// Dir is where it is stored (not written).
	Dir string `json:"-"`
}

// VolumeEntry is one volume's file in a snapshot.
type VolumeEntry struct {
	Volume
	File        string `json:"file"`
	TarBytes    int64  `json:"tar_bytes"`    // the volume's content as a tar
	StoredBytes int64  `json:"stored_bytes"` // the compressed file
	CRC32C      string `json:"crc32c"`       // of the compressed file (zstd checks its frames too)
	// Root is how the tar names the volume's content: "." (entries relative to the
	// volume's root) since snapshots are read from a paused writer when there is one;
	// empty in older snapshots, whose entries are under v/.
	Root string `json:"root,omitempty"`
}

// StoredBytes is what the snapshot takes on disk.
func (m Manifest) StoredBytes() int64 {
	var n int64
	for _, v := range m.Volumes {
		n += v.StoredBytes
	}
	return n
}

// Store keeps snapshots under Root/<instance>/<name>/.
type Store struct {
	Root string
	// Step, when set, is called after each volume is saved (the crash tests kill the
	// process there).
	Step func(name string)
}

// Dir is where snapshot name of instance lives. It only joins the path: the methods that
// touch the disk check both parts first (CheckInstance, CheckName).
func (s Store) Dir(instance, name string) string { return filepath.Join(s.Root, instance, name) }

// ErrNotFound is wrapped by Load for a snapshot that does not exist (or never finished).
var ErrNotFound = errors.New("no such snapshot")

// Load reads one snapshot's manifest.
func (s Store) Load(instance, name string) (Manifest, error) {
	if err := check(instance, name); err != nil {
		return Manifest{}, err
	}
	dir := s.Dir(instance, name)
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%s of %s: %w", name, instance, ErrNotFound)
	}
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	m.Dir = dir
	return m, nil
}

// List returns the complete snapshots of instance (every instance when empty), newest
// first. Directories without a manifest (a snapshot cut short) are not listed.
func (s Store) List(instance string) ([]Manifest, error) {
	instances := []string{instance}
	if instance != "" {
		if err := CheckInstance(instance); err != nil {
			return nil, err
		}
	} else {
		entries, err := os.ReadDir(s.Root)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		instances = nil
		for _, e := range entries {
			if e.IsDir() {
				instances = append(instances, e.Name())
			}
		}
	}
	var out []Manifest
	for _, in := range instances {
		entries, err := os.ReadDir(filepath.Join(s.Root, in))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name()[0] == '.' {
				continue
			}
			if m, err := s.Load(in, e.Name()); err == nil {
				out = append(out, m)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// Delete removes a snapshot.
func (s Store) Delete(instance, name string) error {
	if err := check(instance, name); err != nil { // before RemoveAll could leave the store
		return err
	}
	if _, err := s.Load(instance, name); err != nil {
		return err
	}
	return os.RemoveAll(s.Dir(instance, name))
}

// Progress hears about each volume as it is copied.
type Progress interface {
	Volume(name string, total int64) shared.Progress
}

// Names are the engine's names of vols.
func Names(vols []Volume) []string {
	names := make([]string, len(vols))
	for i, v := range vols {
		names[i] = v.Name
	}
	return names
}

// Quiesce holds the writers still for the copy, and only for it: Pause is called while
// the helper container is created, Thaw as soon as the last volume's content has been
// read (its compression, fsync and the manifest do not need them still).
type Quiesce struct {
	Pause func() error
	Thaw  func()
	// From names, for a volume a writer mounts, that writer and where: the volume is
	// read from it while it is paused (it is mounted already; a helper container must
	// be created and mounted first, ~50 ms of a 64 MiB snapshot). The others are read
	// through the helper.
	From map[string]Source
}

// Take copies every volume into a new snapshot: into a hidden directory first, the
// manifest written last, then renamed into place, so a snapshot cut short is never
// listed. The writers are held still through q.
func (s Store) Take(ctx context.Context, d Docker, image, instance, project, name string, vols []Volume, now time.Time, prog Progress, q Quiesce) (Manifest, error) {
	if err := check(instance, name); err != nil {
		return Manifest{}, err
	}
	final := s.Dir(instance, name)
	if _, err := os.Stat(final); err == nil {
		return Manifest{}, fmt.Errorf("snapshot %s of %s already exists", name, instance)
	}
	tmp := filepath.Join(s.Root, instance, ".tmp-"+name+"-"+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return Manifest{}, err
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	m := Manifest{Name: name, Instance: instance, Project: project, CreatedAt: now.UTC(), Version: 1}
	files, settled, err := s.copyOut(ctx, d, image, vols, tmp, prog, q)
	defer settled()
	for _, f := range files {
		if f.f != nil {
			if err == nil {
				err = durable(f.f)
			}
			f.f.Close()
		}
		m.Volumes = append(m.Volumes, f.entry)
	}
	if err != nil {
		return Manifest{}, err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, ManifestFile), append(data, '\n'), 0o600); err != nil {
		return Manifest{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return Manifest{}, err
	}
	done = true
	syncDir(filepath.Dir(final))
	m.Dir = final
	return m, nil
}

// savedFile is one volume's file, written but not yet made durable.
type savedFile struct {
	entry VolumeEntry
	f     *os.File
}

// copyOut pauses the writers while it creates one helper for every volume, and streams
// each volume into its file. Once the last has been read it thaws the writers and
// removes the helper in the background, while the caller makes the files (still open)
// durable; settled waits for both. On failure the writers are thawed before it returns.
func (s Store) copyOut(ctx context.Context, d Docker, image string, vols []Volume, dir string, prog Progress, q Quiesce) (files []savedFile, settled func(), err error) {
	if len(vols) == 0 {
		return nil, func() {}, nil
	}
	names := Names(vols)
	var (
		r         *Reader
		createErr error
		created   = make(chan struct{})
	)
	go func() { defer close(created); r, createErr = d.NewReader(ctx, image, names, q.From) }()
	pauseErr := q.Pause()
	<-created
	var background sync.WaitGroup
	settled = background.Wait
	release := func() {
		if pauseErr == nil {
			background.Add(1)
			go func() { defer background.Done(); q.Thaw() }()
		}
		if r != nil {
			background.Add(1)
			go func() { defer background.Done(); r.Close(ctx) }()
		}
	}
	if err := errors.Join(pauseErr, createErr); err != nil {
		release()
		settled()
		return nil, settled, err
	}
	for _, v := range vols {
		f, err := saveVolume(ctx, r, v, dir, prog)
		files = append(files, f)
		if err != nil {
			release()
			settled()
			return files, settled, err
		}
		if s.Step != nil {
			s.Step("snapshot:volume")
		}
	}
	release()
	return files, settled, nil
}

func saveVolume(ctx context.Context, r *Reader, v Volume, dir string, prog Progress) (savedFile, error) {
	e := VolumeEntry{Volume: v, File: v.Short + ".tar.zst", Root: "."}
	// read and write: the zstd command writes the file, and this process reads back what
	// it wrote for the checksum (see compressInto)
	f, err := os.OpenFile(filepath.Join(dir, e.File), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return savedFile{entry: e}, err
	}
	out := savedFile{entry: e, f: f}
	zw, stored, err := compressInto(ctx, f)
	if err != nil {
		return out, err
	}
	defer func() { _, _, _ = stored() }() // a copy that failed stops the follower too
	var meter shared.Progress = nopMeter{}
	if prog != nil {
		meter = prog.Volume(v.Name, v.Size)
	}
	meter.Start(shared.Stats{Bytes: v.Size})
	tarBytes := &counter{w: zw, meter: meter}
	if err := r.Save(ctx, v.Name, tarBytes); err != nil {
		zw.Close()
		return out, err
	}
	if err := zw.Close(); err != nil {
		return out, err
	}
	meter.Finish()
	n, sum, err := stored()
	out.entry.TarBytes, out.entry.StoredBytes, out.entry.CRC32C = tarBytes.n, n, sum
	return out, err
}

// Restore gives each of target's volumes (matched by their compose name) the content of
// the snapshot's, creating a volume that does not exist yet with compose's labels. Every
// volume is staged first, beside its live data; then beforeSwap runs (the caller stops
// the volumes' users and writes its journal there), then each staged copy is swapped in;
// then afterSwap runs (the caller starts the users again) while the helpers are removed.
func (s Store) Restore(ctx context.Context, d Docker, image string, m Manifest, project string, prog Progress, beforeSwap, afterSwap func() error) error {
	var staged []*Staged
	closeAll := func() {
		var wg sync.WaitGroup
		for _, st := range staged {
			wg.Add(1)
			go func() { defer wg.Done(); st.Close() }()
		}
		wg.Wait()
		staged = nil
	}
	defer closeAll()
	for _, e := range m.Volumes {
		target := Volume{Name: project + "_" + e.Short, Short: e.Short}
		if err := d.CreateVolume(ctx, project, target); err != nil {
			return fmt.Errorf("volume %s: %w", target.Name, err)
		}
		st, err := stageVolume(ctx, d, image, m.Dir, e, target, prog)
		if err != nil {
			return err
		}
		staged = append(staged, st)
	}
	if beforeSwap != nil {
		if err := beforeSwap(); err != nil {
			return err
		}
	}
	for _, st := range staged {
		if err := st.Swap(ctx); err != nil {
			return err
		}
	}
	if afterSwap == nil {
		return nil
	}
	// A helper holds its volume only as a second user: the first can start beside it.
	removed := make(chan struct{})
	go func() { defer close(removed); closeAll() }()
	err := afterSwap()
	<-removed
	return err
}

func stageVolume(ctx context.Context, d Docker, image, dir string, e VolumeEntry, target Volume, prog Progress) (*Staged, error) {
	f, err := os.Open(filepath.Join(dir, e.File))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sum := crc32.New(castagnoli)
	var meter shared.Progress = nopMeter{}
	if prog != nil {
		meter = prog.Volume(target.Name, e.TarBytes)
	}
	meter.Start(shared.Stats{Bytes: e.TarBytes})
	defer meter.Finish()
	if zstdCLI, err := exec.LookPath("zstd"); err == nil && e.StoredBytes > 0 {
		return stageThroughCLI(ctx, d, image, zstdCLI, f, sum, e, target, meter)
	}
	zr, err := zstd.NewReader(io.TeeReader(f, sum))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	r := &readCounter{r: zr, meter: meter}
	verify := func() error {
		// the tar stream ends before the file does: read the rest for the checksum
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return fmt.Errorf("%s: %w", e.File, err)
		}
		if _, err := io.Copy(hashOnly{sum}, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(sum.Sum(nil)); got != e.CRC32C {
			return fmt.Errorf("%s: %w (the volume keeps its data)", e.File, errChecksum)
		}
		return nil
	}
	return d.Stage(ctx, image, target.Name, e.Root, r, verify)
}

// journal records a restore under way, so a start refuses a half-restored instance.
func (s Store) journal(instance string) string { return filepath.Join(s.Root, instance, ".restoring") }

// BeginRestore marks instance as being restored from name.
func (s Store) BeginRestore(instance, name string) error {
	if err := check(instance, name); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.Root, instance), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(s.journal(instance), []byte(name+"\n"), 0o600)
}

// EndRestore clears the mark.
func (s Store) EndRestore(instance string) error {
	if err := CheckInstance(instance); err != nil {
		return err
	}
	err := os.Remove(s.journal(instance))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Interrupted names the snapshot an unfinished restore of instance was restoring. An id
// CheckInstance refuses has none: BeginRestore never wrote one for it.
func (s Store) Interrupted(instance string) (string, bool) {
	if CheckInstance(instance) != nil {
		return "", false
	}
	b, err := os.ReadFile(s.journal(instance))
	if err != nil {
		return "", false
	}
	return string(trimNL(b)), true
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

type counter struct {
	w     io.Writer
	n     int64
	meter shared.Progress
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.meter != nil {
		c.meter.Add(int64(n))
	}
	return n, err
}

type readCounter struct {
	r     io.Reader
	meter shared.Progress
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.meter.Add(int64(n))
	return n, err
}

// WriteTo hands the decoder's whole blocks to w (a pipe to docker cp) instead of the
// 32 KiB pieces io.Copy would cut them into.
func (c *readCounter) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := c.r.(io.WriterTo); ok {
		return wt.WriteTo(&counter{w: w, meter: c.meter})
	}
	return io.Copy(&counter{w: w, meter: c.meter}, struct{ io.Reader }{c.r})
}

type hashOnly struct{ h hash.Hash }

func (h hashOnly) Write(p []byte) (int, error) { return h.h.Write(p) }

type nopMeter struct{}

func (nopMeter) Start(shared.Stats) {}
func (nopMeter) Add(int64)          {}
func (nopMeter) Finish()            {}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// writeBehind starts the disk writes of what it has written every few MiB, so the fsync
// that makes a snapshot durable finds little left to write: the disk works while zstd
// compresses the next blocks, instead of after the last one.
type writeBehind struct {
	f       *os.File
	off     int64 // written so far
	flushed int64 // handed to writeback so far
}

const writeBehindChunk = 8 << 20

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	w.flushed = writeBehindUpTo(w.f, w.flushed, w.off)
	return n, err
}

// writeBehindUpTo starts the writeback of f's bytes from flushed up to off once they
// make a whole chunk, and returns how far writeback has been started.
func writeBehindUpTo(f *os.File, flushed, off int64) int64 {
	if off-flushed < writeBehindChunk {
		return flushed
	}
	startWriteback(f, flushed, off-flushed)
	return off
}

// compressInto compresses what is written to zw into f at zstd's fastest level: with
// the zstd command line when there is one (on two cores, with the copy running beside
// it, it took 0.2 s for 256 MiB where the in-process encoder took 0.28 s), else in this
// process. Either output is one zstd stream that both decoders read. stored, once zw is
// closed, gives the bytes in f and their CRC-32C.
//
// The command writes f itself: passing its output through this process cost a pipe and
// two copies of every byte (6% of a 256 MiB snapshot). A follower reads back what it
// wrote, from the page cache, for the checksum, and starts its writeback as it grows.
func compressInto(ctx context.Context, f *os.File) (zw io.WriteCloser, stored func() (int64, string, error), err error) {
	zstdCLI, err := exec.LookPath("zstd")
	if err != nil {
		sum := crc32.New(castagnoli)
		out := &counter{w: io.MultiWriter(&writeBehind{f: f}, sum)}
		enc, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest))
		return enc, func() (int64, string, error) { return out.n, hex.EncodeToString(sum.Sum(nil)), nil }, err
	}
	c := &cliCompressor{cmd: exec.CommandContext(ctx, zstdCLI, "-1", "-q", "-T0", "-c")}
	c.cmd.Stdout, c.cmd.Stderr = f, &c.stderr
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, nil, err
	}
	fl := follow(f)
	return c, fl.finish, nil
}

// follower checksums a file another process is writing, as it grows, reading back from
// the page cache, and starts the writeback of every few MiB (as writeBehind does).
type follower struct {
	f       *os.File
	sum     hash.Hash32
	off     int64 // read and checksummed so far
	flushed int64 // handed to writeback so far
	buf     []byte
	stop    chan struct{}
	done    chan error
	once    sync.Once
	err     error
}

// followEvery is how often a follower looks at the file: a 256 MiB snapshot takes about
// a second, so the reads stay small and in the cache.
const followEvery = 20 * time.Millisecond

func follow(f *os.File) *follower {
	fl := &follower{f: f, sum: crc32.New(castagnoli), buf: make([]byte, 1<<20), stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		tick := time.NewTicker(followEvery)
		defer tick.Stop()
		for {
			select {
			case <-fl.stop:
				fl.done <- nil
				return
			case <-tick.C:
				if err := fl.catchUp(); err != nil {
					fl.done <- err
					return
				}
			}
		}
	}()
	return fl
}

// catchUp reads what was written since the last call.
func (fl *follower) catchUp() error {
	fi, err := fl.f.Stat()
	if err != nil {
		return err
	}
	for size := fi.Size(); fl.off < size; {
		n, err := fl.f.ReadAt(fl.buf[:min(int64(len(fl.buf)), size-fl.off)], fl.off)
		fl.sum.Write(fl.buf[:n])
		fl.off += int64(n)
		if err != nil {
			return err
		}
	}
	fl.flushed = writeBehindUpTo(fl.f, fl.flushed, fl.off)
	return nil
}

// finish, once the writer is done, reads the rest and returns the file's size and
// CRC-32C; it stops the follower, and may be called again (after a failed copy, to stop
// it).
func (fl *follower) finish() (int64, string, error) {
	fl.once.Do(func() {
		close(fl.stop)
		if fl.err = <-fl.done; fl.err == nil {
			fl.err = fl.catchUp()
		}
	})
	if fl.err != nil {
		return fl.off, "", fl.err
	}
	return fl.off, hex.EncodeToString(fl.sum.Sum(nil)), nil
}

// cliCompressor feeds the zstd command; Close waits until all it wrote has been passed on.
type cliCompressor struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr strings.Builder
}

func (c *cliCompressor) Write(p []byte) (int, error) { return c.in.Write(p) }

func (c *cliCompressor) Close() error {
	_ = c.in.Close()
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("zstd: %v %s", err, strings.TrimSpace(c.stderr.String()))
	}
	return nil
}

// stageThroughCLI is stageVolume with the zstd command line decompressing straight into
// docker cp's input: measured here, it keeps pace with docker cp where the in-process
// decoder, on a two-core machine that also extracts the tar, costs 10–20% of the restore.
// This process only reads the compressed file (for its checksum) into zstd.
func stageThroughCLI(ctx context.Context, d Docker, image, zstdCLI string, f *os.File, sum hash.Hash32, e VolumeEntry, target Volume, meter shared.Progress) (*Staged, error) {
	tarR, tarW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer tarR.Close()
	var zerr strings.Builder
	unzip := exec.CommandContext(ctx, zstdCLI, "-d", "-q", "-c")
	// progress in tar bytes, from the compressed bytes read
	scaled := &scaledMeter{Progress: meter, num: e.TarBytes, den: e.StoredBytes}
	unzip.Stdin, unzip.Stdout, unzip.Stderr = &readCounter{r: io.TeeReader(f, sum), meter: scaled}, tarW, &zerr
	if err := unzip.Start(); err != nil {
		tarW.Close()
		return nil, err
	}
	tarW.Close() // zstd holds the write end now
	waited := false
	wait := func() error {
		if waited {
			return nil
		}
		waited = true
		return unzip.Wait()
	}
	defer func() { tarR.Close(); _ = wait() }()
	verify := func() error {
		if err := wait(); err != nil {
			return fmt.Errorf("%s: zstd: %v %s", e.File, err, strings.TrimSpace(zerr.String()))
		}
		if _, err := io.Copy(hashOnly{sum}, f); err != nil { // zstd may stop short of padding
			return err
		}
		if got := hex.EncodeToString(sum.Sum(nil)); got != e.CRC32C {
			return fmt.Errorf("%s: %w (the volume keeps its data)", e.File, errChecksum)
		}
		return nil
	}
	return d.Stage(ctx, image, target.Name, e.Root, tarR, verify)
}

// scaledMeter reports n·num/den bytes for every n it is given.
type scaledMeter struct {
	shared.Progress
	num, den int64
}

func (m *scaledMeter) Add(n int64) { m.Progress.Add(n * m.num / m.den) }
