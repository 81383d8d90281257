package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
	"github.com/ktrdr/sandbox/pkg/lock"
)

// RemoteSocket is the Docker socket on the engine's host.
const RemoteSocket = "/var/run/docker.sock"

// Bounds on what crosses the network. ConnectTimeout is what a host that is down, or a
// key that is refused, costs; the keepalive notices a dead peer within 30 s.
const (
	ConnectTimeout = 5 * time.Second
	callTimeout    = 30 * time.Second
	startTimeout   = ConnectTimeout + 10*time.Second
	aliveInterval  = 10
	aliveCount     = 3
)

// ErrUnreachable is wrapped when the engine's host cannot be reached over SSH (down, key
// refused, no route).
var ErrUnreachable = errors.New("engine unreachable")

// UnreachableError says which engine could not be reached and what ssh said.
type UnreachableError struct {
	Engine string
	Reason string
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("engine %s cannot be reached: %s", e.Engine, e.Reason)
}

func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

func (t Tunnel) unreachable(reason string) error {
	return &UnreachableError{Engine: t.Engine.Name(), Reason: reason}
}

// Tunnel is the one SSH connection the tool keeps to an engine: a control master that
// forwards a local unix socket to the remote Docker socket and, per running instance,
// 127.0.0.1:P to the remote's 127.0.0.1:P. Every docker and compose call for an instance
// on the engine goes through the socket (DOCKER_HOST=unix://…), never through ssh://,
// which opens SSH sessions per call and is throttled by sshd (MaxSessions/MaxStartups).
type Tunnel struct {
	Engine Engine
	// Dir holds the control socket, the Docker socket, the pid file and ssh's log.
	Dir string
	// Env is ssh's environment (HOME decides ~/.ssh/config and keys).
	Env []string
}

func (t Tunnel) control() string { return filepath.Join(t.Dir, "ctl") }
func (t Tunnel) pidFile() string { return filepath.Join(t.Dir, "pid") }
func (t Tunnel) logFile() string { return filepath.Join(t.Dir, "ssh.log") }

// Socket is the local end of the Docker socket forward.
func (t Tunnel) Socket() string { return filepath.Join(t.Dir, "docker.sock") }

// DockerHost is the DOCKER_HOST value that reaches the engine through the tunnel.
func (t Tunnel) DockerHost() string { return "unix://" + t.Socket() }

// options are the ssh options every call uses: never prompt, bounded connect, keepalive.
func (t Tunnel) options() []string {
	args := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + strconv.Itoa(int(ConnectTimeout/time.Second)),
		"-o", "ServerAliveInterval=" + strconv.Itoa(aliveInterval), "-o", "ServerAliveCountMax=" + strconv.Itoa(aliveCount),
		"-S", t.control()}
	if _, port := t.Engine.Destination(); port != "" {
		args = append(args, "-p", port)
	}
	return args
}

func (t Tunnel) dest() string { d, _ := t.Engine.Destination(); return d }

// ssh runs one ssh command (through the master when the control socket answers).
func (t Tunnel) ssh(ctx context.Context, timeout time.Duration, stdin io.Reader, stdout io.Writer, args ...string) error {
	all := append(t.options(), args...)
	err := execx.Run(ctx, execx.Cmd{Name: "ssh", Args: all, Env: t.Env, Stdin: stdin, Stdout: stdout, Timeout: timeout})
	return t.classify(err)
}

// classify turns ssh's own failures (exit 255) into ErrUnreachable with ssh's words.
func (t Tunnel) classify(err error) error {
	var ee *execx.ExitError
	if errors.As(err, &ee) && ee.Code == 255 {
		return t.unreachable(ee.Stderr)
	}
	if errors.Is(err, execx.ErrTimeout) {
		return t.unreachable(err.Error())
	}
	return err
}

var masterPID = regexp.MustCompile(`pid=(\d+)`)

// Alive reports the master's pid when the tunnel answers.
func (t Tunnel) Alive(ctx context.Context) (int, bool) {
	if _, err := os.Stat(t.control()); err != nil {
		return 0, false
	}
	var out strings.Builder
	err := execx.Run(ctx, execx.Cmd{Name: "ssh", Args: append(t.options(), "-O", "check", t.dest()), Env: t.Env,
		Stderr: &out, Timeout: 5 * time.Second})
	if err != nil {
		return 0, false
	}
	if m := masterPID.FindStringSubmatch(out.String()); m != nil {
		pid, _ := strconv.Atoi(m[1])
		return pid, true
	}
	return 0, true
}

// startLockWait bounds the wait for another process's start of the same tunnel: its
// check of a master already there (Alive, Ping) plus a handshake, with room to spare.
const startLockWait = startTimeout + 3*ConnectTimeout

func (t Tunnel) startLock() string { return filepath.Join(t.Dir, "start.lock") }

// Start opens the tunnel unless a master answers already, the engine's host included
// (a master whose connection died while a laptop slept does not); a dead one is ended
// and its leftovers (socket, control socket, pid) cleared first. The check and the
// start hold the tunnel's lock file: two commands from two terminals start one master,
// where each would otherwise remove the other's sockets and leave two holding ports.
func (t Tunnel) Start(ctx context.Context) (started bool, err error) {
	if err := os.MkdirAll(t.Dir, 0o700); err != nil {
		return false, err
	}
	release, err := lock.Acquire(ctx, t.startLock(), startLockWait, "the tunnel to "+t.Engine.Name())
	if err != nil {
		return false, err
	}
	defer release()
	if _, ok := t.Alive(ctx); ok && t.Ping(ctx) == nil {
		return false, nil
	}
	t.Kill() // a master that stopped answering (and holds the ports) goes first
	logf, err := os.OpenFile(t.logFile(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return false, err
	}
	defer logf.Close()
	args := append(t.options(), "-N", "-M", "-o", "ControlPersist=no", "-o", "ExitOnForwardFailure=yes",
		"-o", "StreamLocalBindUnlink=yes", "-L", t.Socket()+":"+RemoteSocket, t.dest())
	// Its own session: the tunnel outlives this command and a Ctrl-C in the terminal
	// that started it; its output goes to a file, so nothing waits on a pipe it holds.
	cmd := exec.Command("ssh", args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = t.Env, logf, logf
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("ssh: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond) // the handshake takes ~0.2 s on a LAN
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return false, t.unreachable(t.lastLog())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			t.clear()
			return false, ctx.Err()
		case <-deadline.C:
			_ = cmd.Process.Kill()
			t.clear()
			return false, t.unreachable(fmt.Sprintf("no tunnel within %s", startTimeout))
		case <-tick.C:
			if _, err := os.Stat(t.Socket()); err != nil {
				continue
			}
			if _, ok := t.Alive(ctx); ok {
				_ = os.WriteFile(t.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600)
				return true, nil
			}
		}
	}
}

func (t Tunnel) lastLog() string {
	b, _ := os.ReadFile(t.logFile())
	return strings.Join(strings.Fields(strings.TrimSpace(string(b))), " ")
}

// PID is the recorded pid of the master (0 when none is recorded).
func (t Tunnel) PID() int {
	b, _ := os.ReadFile(t.pidFile())
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func (t Tunnel) clear() {
	for _, f := range []string{t.control(), t.Socket(), t.pidFile()} {
		_ = os.Remove(f)
	}
	_ = os.RemoveAll(t.forwardsDir()) // the master's forwards end with it
}

// forwardsDir records the ports the master forwards, one empty file per port (so two
// commands adding forwards at once need no lock): ssh cannot be asked which it holds.
func (t Tunnel) forwardsDir() string { return filepath.Join(t.Dir, "forwards") }

// Forwarded are the ports this tunnel's master forwards from this machine, as Forward
// and Cancel recorded them since the master started.
func (t Tunnel) Forwarded() map[int]bool {
	out := map[int]bool{}
	entries, _ := os.ReadDir(t.forwardsDir())
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			out[p] = true
		}
	}
	return out
}

// Forward adds local forwards of ports to the same ports on the remote's loopback. A
// port already forwarded by this tunnel is left as it is.
func (t Tunnel) Forward(ctx context.Context, ports []int) error {
	return t.forwards(ctx, "forward", ports)
}

// Cancel removes the forwards of ports.
func (t Tunnel) Cancel(ctx context.Context, ports []int) error {
	return t.forwards(ctx, "cancel", ports)
}

func (t Tunnel) forwards(ctx context.Context, op string, ports []int) error {
	if len(ports) == 0 {
		return nil
	}
	// One request for all of them: the master takes every -L of a control command.
	args := append(t.options(), "-O", op)
	for _, p := range ports {
		args = append(args, "-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", p, p))
	}
	var errb strings.Builder
	err := execx.Run(ctx, execx.Cmd{Name: "ssh", Args: append(args, t.dest()), Env: t.Env, Stderr: &errb, Timeout: callTimeout})
	if err != nil && op == "forward" {
		// The master answers; what failed is a port here (taken since it was checked).
		return fmt.Errorf("forwarding ports %v from this machine to %s: %s", ports, t.Engine.Name(), strings.TrimSpace(errb.String()))
	}
	t.record(op == "forward", ports)
	return nil
}

// record notes ports as forwarded, or no longer (a cancel that failed leaves the forward
// of a master that is gone, whose files Start clears).
func (t Tunnel) record(forwarded bool, ports []int) {
	if forwarded {
		_ = os.MkdirAll(t.forwardsDir(), 0o700)
	}
	for _, p := range ports {
		f := filepath.Join(t.forwardsDir(), strconv.Itoa(p))
		if forwarded {
			_ = os.WriteFile(f, nil, 0o600)
		} else {
			_ = os.Remove(f)
		}
	}
}

// Stop closes the tunnel and removes its files.
func (t Tunnel) Stop(ctx context.Context) error {
	if _, ok := t.Alive(ctx); ok {
		_ = execx.Run(ctx, execx.Cmd{Name: "ssh", Args: append(t.options(), "-O", "exit", t.dest()), Env: t.Env, Timeout: 10 * time.Second})
	}
	if pid := t.PID(); pid > 0 && t.ours(pid) {
		signalPID(pid, false)
	}
	t.clear()
	return nil
}

// Ping makes one round trip to the engine's host within ConnectTimeout: a tunnel whose
// master process is up may still sit on a dead connection until keepalive notices.
func (t Tunnel) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	// No pipes: a client of the master hands its stdio to the master, and a pipe held
	// there would keep this call waiting after the client is gone.
	cmd := exec.CommandContext(ctx, "ssh", append(t.options(), "-n", t.dest(), "true")...)
	cmd.Env = t.Env
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return t.unreachable(fmt.Sprintf("no answer within %s", ConnectTimeout))
		}
		return t.unreachable(err.Error())
	}
	return nil
}

// Kill ends the master without talking to it (its connection may be dead) and removes
// the tunnel's files.
func (t Tunnel) Kill() {
	if pid := t.PID(); pid > 0 && t.ours(pid) {
		// SIGKILL: a master that does not answer may be stopped or stuck, and it still
		// holds the forwarded ports.
		signalPID(pid, true)
	}
	t.clear()
}

// ours tells whether pid is still this tunnel's ssh master: a recorded pid may have been
// reused by another program since.
func (t Tunnel) ours(pid int) bool {
	args, err := processArgs(pid)
	if err != nil {
		return false
	}
	for _, a := range args {
		if strings.Contains(a, t.control()) {
			return true
		}
	}
	return false
}

// Run runs a command on the engine's host (through the master when it is up) and
// returns its output. cmd is one shell line: callers quote what they pass.
func (t Tunnel) Run(ctx context.Context, stdin io.Reader, cmd string) (string, error) {
	var out strings.Builder
	err := t.ssh(ctx, callTimeout, stdin, &out, t.dest(), cmd)
	return out.String(), err
}

// Listening returns the TCP ports something listens on at the engine's host.
func (t Tunnel) Listening(ctx context.Context) (map[int]bool, error) {
	out, err := t.Run(ctx, nil, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null")
	if err != nil {
		return nil, err
	}
	return parseListening(out), nil
}

// parseListening reads /proc/net/tcp lines: local address hex "IP:PORT", state 0A = LISTEN.
func parseListening(s string) map[int]bool {
	ports := map[int]bool{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
			ports[int(p)] = true
		}
	}
	return ports
}

// Quote makes s one word for the remote shell.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
