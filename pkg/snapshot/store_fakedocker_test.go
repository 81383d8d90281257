//go:build !windows

package snapshot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/shared"
)

// fakeDocker puts a `docker` on PATH that plays the helper container's part with files:
// volume NAME is the file vol-NAME in the returned directory. `cp ID:/I/. -` prints the
// I-th volume the helper mounts (a created helper's id is its volumes' names joined by
// "+"), `cp w-NAME:PATH -` volume NAME as its writer w-NAME would, `run … serve` answers "ready" and, on "swap",
// moves what `cp - ID:/v/…` staged into the volume. A volume with a file NAME.fail
// beside it cannot be copied out. Every call is appended to calls. With zstdCLI, the
// zstd command is on PATH too; without it only the fake is, so the in-process decoder runs.
func fakeDocker(t *testing.T, zstdCLI bool) string {
	t.Helper()
	var zstdPath string
	if zstdCLI {
		p, err := exec.LookPath("zstd")
		if err != nil {
			t.Skip("no zstd command on this machine")
		}
		zstdPath = p
	}
	state, bin := t.TempDir(), t.TempDir()
	script := `#!/bin/sh
PATH=/usr/bin:/bin
S='` + state + `'
echo "$*" >> "$S/calls"
vol() { while [ $# -gt 0 ]; do [ "$1" = -v ] && { echo "${2%%:*}"; return; }; shift; done; }
vols() { id=; while [ $# -gt 0 ]; do [ "$1" = -v ] && id="$id${id:++}${2%%:*}"; shift; done; echo "$id"; }
case "$1" in
create) vols "$@" ;;
cp)
  if [ "$2" = - ]; then echo "${3#*:}" > "$S/${3%%:*}.into"; cat > "$S/${3%%:*}.staged"; exit; fi
  case "${2%%:*}" in
  w-*) v=${2%%:*}; v=${v#w-} ;; # a writer container w-VOLUME, which mounts that volume
  *) i=$(echo "${2#*:}" | cut -d/ -f2); v=$(echo "${2%%:*}" | cut -d+ -f$((i+1))) ;;
  esac
  [ -f "$S/$v.fail" ] && { echo "Error: no such volume" >&2; exit 1; }
  cat "$S/vol-$v" ;;
run)
  id=; prev=
  for a in "$@"; do [ "$prev" = --name ] && id="$a"; prev="$a"; done
  v=$(vol "$@")
  echo ready
  read line || exit 0
  [ "$line" = swap ] && mv "$S/$id.staged" "$S/vol-$v" && echo swapped ;;
volume)
  case "$2" in
  inspect) [ -f "$S/vol-$3" ] ;;
  create) for a in "$@"; do last="$a"; done; : > "$S/vol-$last" ;;
  esac ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if zstdPath != "" {
		if err := os.Symlink(zstdPath, filepath.Join(bin, "zstd")); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin) // exec finds programs through this process's PATH
	return state
}

// checkQuiesced asserts what a snapshot does to the writers and the engine: one helper
// for every volume, the writers paused before the first copy and thawed after the last,
// and the helper removed.
func checkQuiesced(t *testing.T, calls string) {
	t.Helper()
	var creates, pause, thaw, lastCopy, rm int
	for i, line := range strings.Split(strings.TrimSpace(calls), "\n") {
		switch f := strings.Fields(line); {
		case f[0] == "create":
			creates++
		case f[0] == "pause":
			pause = i + 1
		case f[0] == "thaw":
			thaw = i + 1
		case f[0] == "cp":
			if pause == 0 {
				t.Errorf("copied before the writers were paused:\n%s", calls)
			}
			lastCopy = i + 1
		case f[0] == "rm":
			rm = i + 1
		}
	}
	if creates != 1 || pause == 0 || thaw < lastCopy || rm == 0 {
		t.Errorf("want one helper, pause, every copy, thaw and the helper removed:\n%s", calls)
	}
}

// recordQuiesce writes "pause" and "thaw" into the fake docker's calls, in order with
// the docker commands.
func recordQuiesce(state string) Quiesce {
	note := func(what string) {
		f, err := os.OpenFile(filepath.Join(state, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, what)
			f.Close()
		}
	}
	return Quiesce{Pause: func() error { note("pause"); return nil }, Thaw: func() { note("thaw") }}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// volumeData is part text (which compresses) and part noise (which does not).
func volumeData(seed int64, n int) []byte {
	b := []byte(strings.Repeat("row,2026-03-01,1.0,2.0\n", n/46))
	noise := make([]byte, n-len(b))
	rand.New(rand.NewSource(seed)).Read(noise)
	return append(b, noise...)
}

type progressByVolume map[string]*recordingMeter

func (p progressByVolume) Volume(name string, total int64) shared.Progress {
	m := &recordingMeter{}
	p[name] = m
	return m
}

func TestTakeAndRestoreThroughTheHelper(t *testing.T) {
	for _, tt := range []struct {
		name    string
		zstdCLI bool
	}{{"in-process zstd", false}, {"zstd command", true}} {
		t.Run(tt.name, func(t *testing.T) {
			state := fakeDocker(t, tt.zstdCLI)
			db, cache := volumeData(1, 300_000), volumeData(2, 40_000)
			mustWrite(t, filepath.Join(state, "vol-src_db"), string(db))
			mustWrite(t, filepath.Join(state, "vol-src_cache"), string(cache))
			mustWrite(t, filepath.Join(state, "vol-src_empty"), "")
			vols := []Volume{{Name: "src_db", Short: "db", Size: int64(len(db))}, {Name: "src_cache", Short: "cache"}, {Name: "src_empty", Short: "empty"}}

			var steps []string
			s := Store{Root: t.TempDir(), Step: func(name string) { steps = append(steps, name) }}
			prog := progressByVolume{}
			ctx := context.Background()
			m, err := s.Take(ctx, Docker{}, "img", "src", "src", "snap", vols, t0, prog, recordQuiesce(state))
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) != 3 || steps[0] != "snapshot:volume" {
				t.Errorf("Step calls: %v", steps)
			}
			checkQuiesced(t, string(readFile(t, filepath.Join(state, "calls"))))
			if m.Dir != s.Dir("src", "snap") || len(m.Volumes) != 3 {
				t.Fatalf("Take = %+v", m)
			}
			for i, want := range [][]byte{db, cache, nil} {
				e := m.Volumes[i]
				stored := readFile(t, filepath.Join(m.Dir, e.File))
				sum := crc32.New(castagnoli)
				_, _ = sum.Write(stored)
				if e.File != vols[i].Short+".tar.zst" || e.TarBytes != int64(len(want)) || e.StoredBytes != int64(len(stored)) ||
					e.CRC32C != hex.EncodeToString(sum.Sum(nil)) {
					t.Errorf("volume %d: %+v (file %d bytes)", i, e, len(stored))
				}
				if meter := prog[vols[i].Name]; meter == nil || meter.added != int64(len(want)) || meter.started != 1 || meter.closed != 1 || meter.total != vols[i].Size {
					t.Errorf("progress of %s: %+v", vols[i].Name, meter)
				}
			}
			loaded, err := s.Load("src", "snap")
			if err != nil || len(loaded.Volumes) != 3 {
				t.Fatalf("Load = %+v, %v", loaded, err)
			}
			for i, e := range loaded.Volumes {
				e.Size = m.Volumes[i].Size // the engine's measure, not written
				if e != m.Volumes[i] {
					t.Errorf("volume %d: loaded %+v, taken %+v", i, e, m.Volumes[i])
				}
			}

			// restore into another project: its volumes are created, staged, then swapped
			// only after beforeSwap, and afterSwap sees the data in place
			var order []string
			before := func() error {
				order = append(order, "before")
				if b := readFile(t, filepath.Join(state, "vol-dst_db")); len(b) != 0 {
					t.Error("data swapped in before beforeSwap")
				}
				return nil
			}
			after := func() error {
				order = append(order, "after")
				if b := readFile(t, filepath.Join(state, "vol-dst_db")); len(b) != len(db) {
					t.Errorf("afterSwap sees %d bytes in the volume", len(b))
				}
				return nil
			}
			if err := s.Restore(ctx, Docker{}, "img", m, "dst", prog, before, after); err != nil {
				t.Fatal(err)
			}
			if strings.Join(order, ",") != "before,after" {
				t.Errorf("hooks ran: %v", order)
			}
			for short, want := range map[string][]byte{"db": db, "cache": cache, "empty": nil} {
				if got := readFile(t, filepath.Join(state, "vol-dst_"+short)); string(got) != string(want) {
					t.Errorf("dst_%s holds %d bytes, want %d", short, len(got), len(want))
				}
			}
			if calls := string(readFile(t, filepath.Join(state, "calls"))); !strings.Contains(calls, "volume create --label "+ProjectLabel+"=dst --label "+VolumeLabel+"=db dst_db") {
				t.Errorf("the restored volume was not created with compose's labels:\n%s", calls)
			}
		})
	}
}

func TestRestoreRefusesADamagedSnapshot(t *testing.T) {
	for _, decoder := range []struct {
		name    string
		zstdCLI bool
	}{{"in-process zstd", false}, {"zstd command", true}} {
		t.Run(decoder.name, func(t *testing.T) {
			state := fakeDocker(t, decoder.zstdCLI)
			data := volumeData(3, 200_000)
			mustWrite(t, filepath.Join(state, "vol-src_db"), string(data))
			s := Store{Root: t.TempDir()}
			ctx := context.Background()
			good, err := s.Take(ctx, Docker{}, "img", "src", "src", "snap", []Volume{{Name: "src_db", Short: "db"}}, t0, nil, recordQuiesce(state))
			if err != nil {
				t.Fatal(err)
			}
			stored := readFile(t, filepath.Join(good.Dir, "db.tar.zst"))

			for i, tt := range []struct {
				name   string
				damage func(t *testing.T, m *Manifest) // makes m (a copy of good, in its own dir) damaged
				want   error                           // nil: any error
			}{
				{"the manifest's checksum differs", func(t *testing.T, m *Manifest) {
					m.Volumes = []VolumeEntry{m.Volumes[0]}
					m.Volumes[0].CRC32C = "00000000"
				}, errChecksum},
				{"padding after the last frame", func(t *testing.T, m *Manifest) {
					// zstd skips a skippable frame; only the checksum of the whole file sees it
					skippable := []byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'j', 'u', 'n', 'k'}
					mustWrite(t, filepath.Join(m.Dir, "db.tar.zst"), string(stored)+string(skippable))
				}, errChecksum},
				{"a flipped byte", func(t *testing.T, m *Manifest) {
					b := append([]byte{}, stored...)
					b[len(b)/2] ^= 0xff
					mustWrite(t, filepath.Join(m.Dir, "db.tar.zst"), string(b))
				}, nil},
			} {
				t.Run(tt.name, func(t *testing.T) {
					m := good
					m.Volumes = append([]VolumeEntry{}, good.Volumes...)
					m.Dir = t.TempDir()
					mustWrite(t, filepath.Join(m.Dir, "db.tar.zst"), string(stored))
					tt.damage(t, &m)
					project := fmt.Sprintf("dst%d", i)
					live := filepath.Join(state, "vol-"+project+"_db")
					mustWrite(t, live, "live data")
					swapped := false
					err := s.Restore(ctx, Docker{}, "img", m, project, nil, func() error { swapped = true; return nil }, nil)
					if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
						t.Fatalf("Restore = %v, want %v", err, tt.want)
					}
					if swapped {
						t.Error("beforeSwap ran for a damaged snapshot")
					}
					if got := string(readFile(t, live)); got != "live data" {
						t.Errorf("the volume lost its data: %d bytes", len(got))
					}
				})
			}
		})
	}
}

func TestTakeThatFailsLeavesNothing(t *testing.T) {
	state := fakeDocker(t, false)
	mustWrite(t, filepath.Join(state, "vol-src_db"), "data")
	mustWrite(t, filepath.Join(state, "src_broken.fail"), "")
	s := Store{Root: t.TempDir()}
	vols := []Volume{{Name: "src_db", Short: "db"}, {Name: "src_broken", Short: "broken"}}
	_, err := s.Take(context.Background(), Docker{}, "img", "src", "src", "snap", vols, t0, nil, recordQuiesce(state))
	if err == nil || !strings.Contains(err.Error(), "copy volume src_broken out") {
		t.Fatalf("Take = %v, want the failed copy", err)
	}
	if calls := string(readFile(t, filepath.Join(state, "calls"))); !strings.HasSuffix(calls, "thaw\n") && !strings.Contains(calls, "thaw\nrm") {
		t.Errorf("the writers were not thawed after a failed copy:\n%s", calls)
	}
	entries, err := os.ReadDir(filepath.Join(s.Root, "src"))
	if err != nil || len(entries) != 0 {
		t.Errorf("a failed snapshot left %v (%v)", entries, err)
	}
	if got, _ := s.List(""); len(got) != 0 {
		t.Errorf("a failed snapshot is listed: %v", names(got))
	}
}

// A volume a running writer mounts is read from that writer while it is paused (it is
// mounted already); only the others need the helper, and none when every volume has a
// writer. Its tar holds the volume's root ("./…"), which the restore stages into v.
func TestAVolumeIsReadFromItsPausedWriter(t *testing.T) {
	state := fakeDocker(t, false)
	db, cache := volumeData(1, 50_000), volumeData(2, 10_000)
	mustWrite(t, filepath.Join(state, "vol-src_db"), string(db))
	mustWrite(t, filepath.Join(state, "vol-src_cache"), string(cache))
	vols := []Volume{{Name: "src_db", Short: "db"}, {Name: "src_cache", Short: "cache"}}
	s := Store{Root: t.TempDir()}
	ctx := context.Background()
	q := recordQuiesce(state)
	q.From = map[string]Source{"src_db": {Container: "w-src_db", Path: "/var/lib/db"}}
	m, err := s.Take(ctx, Docker{}, "img", "src", "src", "one", vols, t0, nil, q)
	if err != nil {
		t.Fatal(err)
	}
	calls := string(readFile(t, filepath.Join(state, "calls")))
	if !strings.Contains(calls, "cp w-src_db:/var/lib/db/. -") || !strings.Contains(calls, "create --label "+helperLabel+"=1 --network none -v src_cache:/1:ro img idle") ||
		strings.Contains(calls, "-v src_db:") {
		t.Errorf("want db read from its writer, and a helper for cache alone:\n%s", calls)
	}
	for _, e := range m.Volumes {
		if e.Root != "." {
			t.Errorf("%s: root %q, want \".\"", e.Name, e.Root)
		}
	}
	if err := s.Restore(ctx, Docker{}, "img", m, "dst", nil, func() error { return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(state, "vol-dst_db")); string(got) != string(db) {
		t.Errorf("dst_db holds %d bytes, want %d", len(got), len(db))
	}
	intos, _ := filepath.Glob(filepath.Join(state, "*.into"))
	for _, f := range intos {
		if into := strings.TrimSpace(string(readFile(t, f))); into != "/v/.sandbox-restore/v" {
			t.Errorf("a tar of the volume's root was copied into %s, want /v/.sandbox-restore/v", into)
		}
	}

	// a snapshot of an older version: its tars hold v/…, copied into the staging area
	for _, f := range intos {
		_ = os.Remove(f)
	}
	for i := range m.Volumes {
		m.Volumes[i].Root = ""
	}
	if err := s.Restore(ctx, Docker{}, "img", m, "old", nil, func() error { return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	intos, _ = filepath.Glob(filepath.Join(state, "*.into"))
	for _, f := range intos {
		if into := strings.TrimSpace(string(readFile(t, f))); into != "/v/.sandbox-restore" {
			t.Errorf("an older snapshot's tar was copied into %s, want /v/.sandbox-restore", into)
		}
	}
	if len(intos) != 2 {
		t.Errorf("%d copies into a staging area, want 2", len(intos))
	}

	_ = os.Remove(filepath.Join(state, "calls"))
	q.From["src_cache"] = Source{Container: "w-src_cache", Path: "/cache"}
	if _, err := s.Take(ctx, Docker{}, "img", "src", "src", "two", vols, t0, nil, q); err != nil {
		t.Fatal(err)
	}
	if calls := string(readFile(t, filepath.Join(state, "calls"))); strings.Contains(calls, "create") || strings.Contains(calls, "rm") {
		t.Errorf("a helper was made although every volume has a writer:\n%s", calls)
	}
}
