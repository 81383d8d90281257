package engine

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testbed is the engine of scripts/remote-testbed.sh, when it is up (SANDBOX_TESTBED
// names another one).
func testbed(t *testing.T) Engine {
	t.Helper()
	endpoint := os.Getenv("SANDBOX_TESTBED")
	if endpoint == "" {
		if _, err := os.Stat("/etc/ssh/ssh_config.d/sandbox-testbed.conf"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("the remote test bed is not up: run scripts/remote-testbed.sh up")
			}
			t.Skip("the remote test bed is not up (scripts/remote-testbed.sh up)")
		}
		endpoint = "ssh://root@10.200.0.2"
	}
	e, err := Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "tun")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestTunnelOnTestbed(t *testing.T) {
	e := testbed(t)
	ctx := context.Background()
	tun := Tunnel{Engine: e, Dir: filepath.Join(shortDir(t), e.Key())}
	started, err := tun.Start(ctx)
	if err != nil || !started {
		t.Fatalf("start: %v %v", started, err)
	}
	t.Cleanup(func() { _ = tun.Stop(context.Background()) })
	if again, err := tun.Start(ctx); err != nil || again {
		t.Fatalf("a second start must reuse the tunnel: %v %v", again, err)
	}
	pid, ok := tun.Alive(ctx)
	if !ok || pid == 0 || tun.PID() != pid {
		t.Fatalf("alive %d %v, recorded %d", pid, ok, tun.PID())
	}
	out, err := exec.Command("docker", "-H", tun.DockerHost(), "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		t.Fatalf("docker through the tunnel: %v %s", err, out)
	}

	// A port forward reaches a listener on the remote's loopback.
	if _, err := tun.Run(ctx, nil, "true"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := tun.Forward(ctx, []int{free}); err != nil {
		t.Fatal(err)
	}
	if err := tun.Forward(ctx, []int{free}); err != nil {
		t.Fatalf("forwarding the same port twice: %v", err)
	}
	if got := tun.Forwarded(); !got[free] || len(got) != 1 {
		t.Fatalf("forwards recorded: %v, want %d", got, free)
	}
	listening, err := tun.Listening(ctx)
	if err != nil || !listening[22] {
		t.Fatalf("remote listeners %v %v", listening, err)
	}
	if err := tun.Cancel(ctx, []int{free}); err != nil {
		t.Fatal(err)
	}
	if got := tun.Forwarded(); len(got) != 0 {
		t.Fatalf("forwards recorded after cancel: %v", got)
	}
	if err := tun.Forward(ctx, []int{free}); err != nil { // for the dead master below
		t.Fatal(err)
	}

	// Publish.
	src := shortDir(t)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("one"), 0o644)
	remote := "/tmp/engine-test-" + e.Key() + "/data"
	t.Cleanup(func() { _, _ = tun.Run(context.Background(), nil, "rm -rf "+Quote(filepath.Dir(remote))) })
	if upToDate, err := tun.Publish(ctx, src, remote, nil); err != nil || upToDate {
		t.Fatalf("publish: %v %v", upToDate, err)
	}
	if upToDate, err := tun.Publish(ctx, src, remote, nil); err != nil || !upToDate {
		t.Fatalf("publish again: %v %v", upToDate, err)
	}
	os.WriteFile(filepath.Join(src, "b.txt"), []byte("two"), 0o644)
	if _, err := tun.Publish(ctx, src, remote, nil); err != nil {
		t.Fatal(err)
	}
	got, err := tun.Run(ctx, nil, "cat "+Quote(remote)+"/a.txt "+Quote(remote)+"/b.txt; ls -a "+Quote(filepath.Dir(remote)))
	if err != nil || !strings.HasPrefix(got, "onetwo") || strings.Count(got, ".data.v") != 1 {
		t.Fatalf("remote content %q %v", got, err)
	}

	// Dead tunnel: Alive says so, Start brings a new one.
	_ = exec.Command("kill", "-9", itoa(pid)).Run()
	time.Sleep(200 * time.Millisecond)
	if _, ok := tun.Alive(ctx); ok {
		t.Fatal("killed tunnel reported alive")
	}
	if started, err := tun.Start(ctx); err != nil || !started {
		t.Fatalf("restart: %v %v", started, err)
	}
	if got := tun.Forwarded(); len(got) != 0 {
		t.Fatalf("a new master inherits the dead one's forwards: %v", got)
	}

	// A master that stops answering (stopped here; a laptop's sleep, a wedged process)
	// is not alive, and Start replaces it instead of leaving it holding the ports.
	stuck := tun.PID()
	if err := syscall.Kill(stuck, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if started, err := tun.Start(ctx); err != nil || !started || tun.PID() == stuck {
		t.Fatalf("replacing a stuck master: %v %v (pid %d → %d)", started, err, stuck, tun.PID())
	}
	time.Sleep(200 * time.Millisecond)
	if b, err := os.ReadFile("/proc/" + itoa(stuck) + "/stat"); err == nil && !strings.Contains(string(b), ") Z") {
		t.Errorf("the stuck master %d still runs: %s", stuck, b)
	}
}

func TestUnreachableIsBounded(t *testing.T) {
	// 10.200.0.9 is on the test bed's link but nobody answers there; without the test bed
	// the route is missing and ssh fails at once. Either way: bounded, ErrUnreachable.
	e, _ := Parse("ssh://root@10.200.0.9")
	tun := Tunnel{Engine: e, Dir: filepath.Join(shortDir(t), e.Key())}
	start := time.Now()
	_, err := tun.Start(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("start on a dead host: %v", err)
	}
	if d := time.Since(start); d > startTimeout+2*time.Second {
		t.Fatalf("took %s", d)
	}
	if _, err := tun.Run(context.Background(), nil, "true"); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("run on a dead host: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
