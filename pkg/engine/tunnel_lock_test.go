package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSSH answers as OpenSSH does for what Start asks of it: a master (-M) that comes up
// after a handshake's worth of time and notes itself in FAKE_SSH_LOG, -O check and exit
// against it, and any remote command as a host that answers.
const fakeSSH = `#!/bin/sh
ctl= sock= op= master=
while [ $# -gt 0 ]; do
  case "$1" in
    -S) ctl=$2; shift ;;
    -O) op=$2; shift ;;
    -L) sock=${2%%:*}; shift ;;
    -M) master=1 ;;
    -o|-p) shift ;;
  esac
  shift
done
if [ -n "$master" ]; then
  echo "$$" >>"$FAKE_SSH_LOG"
  sleep 0.3
  echo "$$" >"$ctl"; : >"$sock"
  while [ -e "$ctl" ]; do sleep 0.05; done
  exit 0
fi
case "$op" in
  check) [ -e "$ctl" ] || exit 255; echo "Master running (pid=$(cat "$ctl"))" >&2 ;;
  exit) rm -f "$ctl" ;;
esac
exit 0
`

// TestTunnelStartsOnceAcrossProcesses: two commands from two terminals that open the
// same engine's tunnel at once start one master; the other uses it.
func TestTunnelStartsOnceAcrossProcesses(t *testing.T) {
	bin, dir := t.TempDir(), filepath.Join(shortDir(t), "engine")
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(fakeSSH), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "masters")
	t.Setenv("PATH", bin+":"+os.Getenv("PATH")) // exec finds ssh on this process's PATH
	env := append(os.Environ(), "FAKE_SSH_LOG="+log)
	e, _ := Parse("ssh://root@box.example")
	tun := Tunnel{Engine: e, Dir: dir, Env: env}
	t.Cleanup(func() { _ = tun.Stop(context.Background()) })

	at := time.Now().Add(300 * time.Millisecond) // both begin at once, as far as a clock can say
	var procs []*exec.Cmd
	var outs []*strings.Builder
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartTunnel$", "-test.v")
		out := &strings.Builder{}
		cmd.Env = append(env, "SANDBOX_TUNNEL_HELPER="+dir, fmt.Sprintf("SANDBOX_TUNNEL_AT=%d", at.UnixNano()))
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs, outs = append(procs, cmd), append(outs, out)
	}
	for i, p := range procs {
		if err := p.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	b, _ := os.ReadFile(log)
	if masters := strings.Fields(string(b)); len(masters) != 1 {
		t.Errorf("%d masters started (pids %v), want 1\n%s\n%s", len(masters), masters, outs[0], outs[1])
	}
	if started := strings.Count(outs[0].String()+outs[1].String(), "started=true"); started != 1 {
		t.Errorf("%d processes say they started the tunnel, want 1\n%s\n%s", started, outs[0], outs[1])
	}
	if _, ok := tun.Alive(context.Background()); !ok {
		t.Error("no tunnel answers after both")
	}
}

// TestHelperStartTunnel is one of TestTunnelStartsOnceAcrossProcesses's processes.
func TestHelperStartTunnel(t *testing.T) {
	dir := os.Getenv("SANDBOX_TUNNEL_HELPER")
	if dir == "" {
		t.Skip("a helper process of TestTunnelStartsOnceAcrossProcesses")
	}
	var at int64
	fmt.Sscan(os.Getenv("SANDBOX_TUNNEL_AT"), &at)
	time.Sleep(time.Until(time.Unix(0, at)))
	e, _ := Parse("ssh://root@box.example")
	started, err := Tunnel{Engine: e, Dir: dir, Env: os.Environ()}.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("started=%v\n", started)
}
