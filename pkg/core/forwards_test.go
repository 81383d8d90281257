package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/compose"
	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/engine"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/platform"
	"github.com/ktrdr/sandbox/pkg/ports"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// liveEngine is a remote engine whose tunnel is up: a fake ssh on PATH answers as a
// control master does (-O check, forward, cancel, exit), notes every control command in
// $FAKE_SSH_DIR/log, and answers a remote command with what $FAKE_SSH_DIR/listening
// holds (the engine's host's /proc/net/tcp) or nothing.
const liveEngine = "ssh://deploy@box.example"

const liveSSH = `#!/bin/sh
ctl= op= fwd=
while [ $# -gt 0 ]; do
  case "$1" in
    -S) ctl=$2; shift ;;
    -O) op=$2; shift ;;
    -L) fwd="$fwd $2"; shift ;;
    -o|-p) shift ;;
    *) last=$1 ;;
  esac
  shift
done
case "$op" in
  check) [ -e "$ctl" ] || exit 255; echo "Master running (pid=1)" >&2; exit 0 ;;
  exit) rm -f "$ctl"; echo exit >>"$FAKE_SSH_DIR/log"; exit 0 ;;
  forward|cancel) echo "$op$fwd" >>"$FAKE_SSH_DIR/log"; exit 0 ;;
esac
case "$last" in
  *proc/net/tcp*) cat "$FAKE_SSH_DIR/listening" 2>/dev/null ;;
esac
exit 0
`

// withLiveEngine makes a remote instance "far" whose tunnel is up; it returns the Env
// run in its checkout and the fake ssh's directory.
func withLiveEngine(t *testing.T, w *world) (*Env, *Instance, string) {
	t.Helper()
	bin, dir := t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(bin, "ssh"), liveSSH)
	if err := os.Chmod(filepath.Join(bin, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := bin + ":" + os.Getenv("PATH")
	t.Setenv("PATH", path)
	w.env.Vars = []string{"PATH=" + path, "FAKE_SSH_DIR=" + dir}
	eng, err := engine.Parse(liveEngine)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.env.Create(context.Background(), "far", CreateOptions{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	e := w.at(res.Instance.Dir)
	tun := e.Tunnel(eng)
	mustWrite(t, filepath.Join(tun.Dir, "ctl"), "") // the master's control socket
	in, err := e.Current(config.KindSandbox)
	if err != nil {
		t.Fatal(err)
	}
	return e, in, dir
}

// hostListening is /proc/net/tcp on the engine's host with ports listening.
func hostListening(ports ...int) string {
	s := "  sl  local_address rem_address   st\n"
	for i, p := range ports {
		s += fmt.Sprintf("   %d: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n", i, p)
	}
	return s
}

// TestARefusedUpKeepsARunningRemoteInstanceReachable: up on an instance that runs on a
// remote engine, refused (no memory for it, a stranger on a port of its slot at the
// engine's host), leaves the tunnel's forwards of its ports as they were, so its
// localhost URLs keep answering.
func TestARefusedUpKeepsARunningRemoteInstanceReachable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse func(w *world, e *Env, in *Instance, sshDir string)
		want   func(error) bool
	}{
		{"memory", func(w *world, e *Env, in *Instance, _ string) {
			linux := platform.Platform{OS: "linux", Arch: "amd64"}
			w.docker.engine = platform.Engine{Platform: linux, Native: linux, MemTotal: 4 * gib, CPUs: 4}
			w.docker.states["acme--other"] = compose.Counts{Running: 2, Total: 2}
			w.docker.usage = map[string]stats.Usage{"acme--other": {Containers: 2, MemBytes: 3 * gib}}
			if err := e.usageHistory().Record(map[string]stats.Usage{in.ID: {Containers: 2, MemBytes: 2 * gib}}, fixedNow); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { return errors.Is(err, ErrMemory) }},
		{"port busy on the engine's host", func(w *world, e *Env, in *Instance, sshDir string) {
			ports := slotPorts(e, in)
			delete(w.docker.published, ports[1]) // that service of the instance is stopped
			mustWrite(t, filepath.Join(sshDir, "listening"), hostListening(ports...))
		}, func(err error) bool { return fail.Code(err) == fail.CodePorts }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			e, in, sshDir := withLiveEngine(t, w)
			ports := slotPorts(e, in)
			// it runs: its containers publish the slot's ports there, forwarded here
			w.docker.states[in.ID] = compose.Counts{Running: 2, Total: 2}
			w.docker.published = map[int]bool{}
			for _, p := range ports {
				w.docker.published[p] = true
			}
			mustWrite(t, filepath.Join(sshDir, "listening"), hostListening(ports...))
			if err := e.Tunnel(in.Engine).Forward(ctx, ports); err != nil {
				t.Fatal(err)
			}
			tc.refuse(w, e, in, sshDir)

			_, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true})
			if !tc.want(err) {
				t.Fatalf("up was not refused as it should be: %v", err)
			}
			b, _ := os.ReadFile(filepath.Join(sshDir, "log"))
			if log := string(b); strings.Contains(log, "cancel") || strings.Contains(log, "exit") {
				t.Errorf("the refused up dropped the running instance's forwards (ports %v):\n%s", ports, log)
			}
			if got := e.Tunnel(in.Engine).Forwarded(); len(got) != len(ports) {
				t.Errorf("forwards recorded after the refused up: %v, want %v", got, ports)
			}
			if len(w.docker.called("up ")) != 0 {
				t.Errorf("compose up ran: %v", w.docker.calls)
			}
		})
	}
}

// TestTheTunnelsForwardsAreTheInstancesOwnPorts: the forwards a remote instance's tunnel
// keeps hold its ports here even when its containers went away behind the tool's back;
// up counts them as the instance's, not as a stranger's, while a stranger here on a port
// of the slot still refuses it.
func TestTheTunnelsForwardsAreTheInstancesOwnPorts(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	e, in, sshDir := withLiveEngine(t, w)
	slot := slotPorts(e, in)
	if err := e.Tunnel(in.Engine).Forward(ctx, slot); err != nil {
		t.Fatal(err)
	}
	// The master's listeners here (the fake ssh holds none), and no container there.
	for _, p := range slot {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Skipf("port %d of the test's table is taken on this machine: %v", p, err)
		}
		t.Cleanup(func() { _ = l.Close() })
	}
	// the memory check, after the port check, stops up before anything starts
	linux := platform.Platform{OS: "linux", Arch: "amd64"}
	w.docker.engine = platform.Engine{Platform: linux, Native: linux, MemTotal: 4 * gib, CPUs: 4}
	w.docker.states["acme--other"] = compose.Counts{Running: 2, Total: 2}
	w.docker.usage = map[string]stats.Usage{"acme--other": {Containers: 2, MemBytes: 3 * gib}}
	if err := e.usageHistory().Record(map[string]stats.Usage{in.ID: {Containers: 2, MemBytes: 2 * gib}}, fixedNow); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true}); !errors.Is(err, ErrMemory) {
		t.Fatalf("up read the tunnel's own forwards as busy ports, or failed otherwise: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(sshDir, "log"))
	if strings.Contains(string(b), "cancel") {
		t.Errorf("up dropped the forwards:\n%s", b)
	}

	// Without the record, the same listeners are a stranger's. (The refused up closed
	// the tunnel, nothing running there; it is up again, without forwards.)
	tun := e.Tunnel(in.Engine)
	mustWrite(t, filepath.Join(tun.Dir, "ctl"), "")
	if got := tun.Forwarded(); len(got) != 0 {
		t.Fatalf("closing the tunnel left its forwards recorded: %v", got)
	}
	_, err := e.Up(ctx, config.KindSandbox, StartOptions{NoWait: true})
	var conflict *ports.ConflictError
	if fail.Code(err) != fail.CodePorts || !errors.As(err, &conflict) || conflict.Where != "" {
		t.Errorf("a stranger here on the slot's ports: %v", err)
	}
}
