package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// errNoProcess: the pid names no process (or none this user may look at).
var errNoProcess = errors.New("no such process")

// splitNUL cuts a NUL-separated argument block (Linux's /proc/<pid>/cmdline) into its
// arguments.
func splitNUL(b []byte) []string {
	var out []string
	for _, a := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
		out = append(out, string(a))
	}
	return out
}

// parseProcArgs2 reads the block macOS's sysctl kern.procargs2 returns: argc as a 32-bit
// integer in the machine's order (little-endian on every Mac Go supports), the executable's
// path, NUL padding, then argc NUL-terminated arguments (the environment follows).
func parseProcArgs2(b []byte) ([]string, error) {
	if len(b) < 4 {
		return nil, errors.New("procargs2: short block")
	}
	argc := int(binary.LittleEndian.Uint32(b[:4]))
	rest := b[4:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return nil, errors.New("procargs2: no executable path")
	}
	rest = rest[end:]
	for len(rest) > 0 && rest[0] == 0 {
		rest = rest[1:]
	}
	args := make([]string, 0, argc)
	for len(args) < argc && len(rest) > 0 {
		end := bytes.IndexByte(rest, 0)
		if end < 0 {
			end = len(rest)
		}
		args = append(args, string(rest[:end]))
		rest = rest[min(end+1, len(rest)):]
	}
	if len(args) < argc {
		return nil, errors.New("procargs2: fewer arguments than argc")
	}
	return args, nil
}
