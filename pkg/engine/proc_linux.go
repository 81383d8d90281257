package engine

import (
	"fmt"
	"os"
)

// processArgs returns the command line of a running process.
func processArgs(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil, errNoProcess
	}
	return splitNUL(b), nil
}
