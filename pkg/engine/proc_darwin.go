package engine

import "golang.org/x/sys/unix"

// processArgs returns the command line of a running process (macOS has no /proc; the
// kernel hands it out through sysctl, as ps does).
func processArgs(pid int) ([]string, error) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return nil, errNoProcess
	}
	return parseProcArgs2(b)
}
