package ports

import (
	"net"
	"reflect"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
)

// hold listens on a port the kernel picks, so a test never depends on a fixed port being
// free on the machine it runs on; the listener is closed when the test ends.
func hold(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// released is a port that was just bound and let go: free unless another process takes it
// in the meantime, which the kernel's port choice makes unlikely.
func released(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func TestFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if Free(port) {
		t.Errorf("port %d is held by a listener but was reported free", port)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !Free(port) {
		t.Errorf("port %d was released but was reported busy", port)
	}
	// Free must let go of what it bound, or asking twice would find the port busy.
	if !Free(port) {
		t.Errorf("port %d: the first Free kept it bound", port)
	}
}

func assign(env string, port int) config.Assignment {
	return config.Assignment{Port: config.Port{Env: env}, Host: port}
}

func TestBusy(t *testing.T) {
	heldA, heldB, heldOwn := hold(t), hold(t), hold(t)
	free1, free2 := released(t), released(t)
	tests := []struct {
		name   string
		in     []config.Assignment
		ignore map[int]bool
		want   []config.Assignment
	}{
		{"none", nil, nil, nil},
		{"all free", []config.Assignment{assign("A", free1), assign("B", free2)}, nil, nil},
		{
			"held ones in table order",
			[]config.Assignment{assign("B", heldB), assign("F", free1), assign("A", heldA)},
			nil,
			[]config.Assignment{assign("B", heldB), assign("A", heldA)},
		},
		{
			"the instance's own ports are skipped",
			[]config.Assignment{assign("A", heldA), assign("OWN", heldOwn), assign("F", free1), assign("B", heldB)},
			map[int]bool{heldOwn: true},
			[]config.Assignment{assign("A", heldA), assign("B", heldB)},
		},
		{
			"an ignored free port is not reported either",
			[]config.Assignment{assign("F", free1), assign("OWN", heldOwn)},
			map[int]bool{free1: true, heldOwn: true},
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Busy(tt.in, tt.ignore); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Busy = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConflictErrorMessage(t *testing.T) {
	busy := []config.Assignment{assign("KTRDR_API_PORT", 8001), assign("KTRDR_DB_PORT", 5433)}
	tests := []struct {
		name string
		err  *ConflictError
		want string
	}{
		{"here", &ConflictError{Slot: 1, Busy: busy}, "port(s) of slot 1 in use: 8001 (KTRDR_API_PORT), 5433 (KTRDR_DB_PORT)"},
		{"on another host", &ConflictError{Slot: 2, Busy: busy[:1], Where: "engine ssh://box"},
			"port(s) of slot 2 in use on engine ssh://box: 8001 (KTRDR_API_PORT)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error = tt.err
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
