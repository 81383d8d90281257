package engine

import (
	"encoding/binary"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func TestSplitNUL(t *testing.T) {
	got := splitNUL([]byte("ssh\x00-S\x00/tmp/ctl sock\x00"))
	if want := []string{"ssh", "-S", "/tmp/ctl sock"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
}

// procargs2 builds the block macOS returns: argc, exec path, padding, args, environment.
func procargs2(argc uint32, path string, args ...string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, argc)
	b = append(b, path...)
	b = append(b, 0, 0, 0, 0)
	for _, a := range args {
		b = append(append(b, a...), 0)
	}
	return append(b, "HOME=/Users/x\x00PATH=/usr/bin\x00"...)
}

func TestParseProcArgs2(t *testing.T) {
	got, err := parseProcArgs2(procargs2(3, "/usr/bin/ssh", "ssh", "-S", "/Users/x/.acme/ctl"))
	if err != nil || !reflect.DeepEqual(got, []string{"ssh", "-S", "/Users/x/.acme/ctl"}) {
		t.Errorf("%q %v", got, err)
	}
	for name, b := range map[string][]byte{
		"short":          {1, 0},
		"no path end":    append(binary.LittleEndian.AppendUint32(nil, 1), "/usr/bin/ssh"...),
		"argc too large": procargs2(5, "/usr/bin/ssh", "ssh")[:30],
	} {
		if _, err := parseProcArgs2(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestProcessArgsOfAChild reads a live process's command line the way ours() does, and
// gets nothing for a pid that has gone.
func TestProcessArgsOfAChild(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("no process arguments on " + runtime.GOOS)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Until the child has exec'd, it still carries this test binary's arguments.
	var args []string
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if args, err = processArgs(cmd.Process.Pid); err == nil && len(args) == 2 && args[1] == "30" {
			break
		}
	}
	if err != nil || len(args) != 2 || args[1] != "30" {
		t.Errorf("%q %v", args, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := processArgs(cmd.Process.Pid); err == nil {
		t.Error("a reaped pid still has arguments")
	}
	if _, err := processArgs(os.Getpid()); err != nil {
		t.Error(err)
	}
}
