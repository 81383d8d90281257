//go:build !unix

package engine

import (
	"os"
	"os/exec"
)

func detach(*exec.Cmd) {}

func signalPID(pid int, _ bool) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
