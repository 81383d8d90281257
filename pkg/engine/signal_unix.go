//go:build unix

package engine

import (
	"os/exec"
	"syscall"
)

// detach gives the ssh master a session of its own: it outlives this command and a
// Ctrl-C in the terminal that started it.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }

// signalPID asks a process to end (SIGTERM), or ends it (SIGKILL) when hard.
func signalPID(pid int, hard bool) {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(pid, sig)
}
