package gate

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
)

func portOf(t *testing.T, url string) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	n, _ := strconv.Atoi(p)
	return n
}

func TestGatePassesOnceWorkersRegister(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/health":
			w.WriteHeader(200)
		case "/api/v1/workers":
			if calls.Add(1) < 3 {
				w.Write([]byte(`{"workers":[1,2]}`))
				return
			}
			w.Write([]byte(`[1,2,3,4]`))
		default:
			http.Redirect(w, r, "/search", http.StatusFound)
		}
	}))
	defer srv.Close()
	port := portOf(t, srv.URL)
	var out bytes.Buffer
	rep := Run(context.Background(), Options{
		Checks:  config.KTRDR().Gate,
		Ports:   map[string]int{"KTRDR_DB_PORT": port, "KTRDR_API_PORT": port, "KTRDR_JAEGER_UI_PORT": port},
		Timeout: 10 * time.Second, Poll: 10 * time.Millisecond, Out: &out,
	})
	if !rep.Passed() {
		t.Fatalf("gate failed:\n%s", out.String())
	}
	for _, want := range []string{"✓ Database ready", "✓ Backend ready", "✓ Workers ready (4 workers registered)", "✓ Jaeger ready (GET / → 302)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestGateFailsWithinTheDeadlineAndSkipsDependents(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out bytes.Buffer
	start := time.Now()
	rep := Run(context.Background(), Options{
		Checks:  config.KTRDR().Gate,
		Ports:   map[string]int{"KTRDR_DB_PORT": dead, "KTRDR_API_PORT": dead, "KTRDR_JAEGER_UI_PORT": dead},
		Timeout: 500 * time.Millisecond, Out: &out,
	})
	if rep.Passed() {
		t.Fatal("gate passed with nothing listening")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s for a 500ms deadline", d)
	}
	got := map[string]Outcome{}
	for _, r := range rep.Results {
		got[r.Name] = r.Outcome
	}
	if got["Database"] != Failed || got["Backend"] != Failed || got["Workers"] != Skipped || got["Jaeger"] != Failed {
		t.Fatalf("outcomes %v\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), "✗ Backend failed: timeout after 500ms") || !strings.Contains(out.String(), "○ Workers skipped") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestCountWorkers(t *testing.T) {
	for body, want := range map[string]int{`[]`: 0, `[{},{}]`: 2, `{"workers":[1,2,3]}`: 3, `{"workers":null}`: 0} {
		if n, err := CountWorkers([]byte(body)); err != nil || n != want {
			t.Errorf("CountWorkers(%s) = %d, %v", body, n, err)
		}
	}
	if _, err := CountWorkers([]byte(`"nope"`)); err == nil {
		t.Error("a string counted as a worker list")
	}
}

// TestIndependentChecksArePolledTogether: two services that each need 20 polls to answer
// are polled at the same time (B is already being asked when A first answers, so the
// gate waits for the slower one, not their sum), and the lines still come in the
// table's order.
func TestIndependentChecksArePolledTogether(t *testing.T) {
	var a, b, bWhenAReady atomic.Int32
	sa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Add(1) < 20 {
			w.WriteHeader(503)
			return
		}
		bWhenAReady.CompareAndSwap(0, b.Load())
		w.WriteHeader(200)
	}))
	sb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.Add(1) < 20 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	}))
	defer sa.Close()
	defer sb.Close()
	var out bytes.Buffer
	rep := Run(context.Background(), Options{
		Checks: []config.Check{
			{Name: "A", Kind: config.CheckHTTP, PortEnv: "A", Path: "/"},
			{Name: "B", Kind: config.CheckHTTP, PortEnv: "B", Path: "/"},
		},
		Ports: map[string]int{"A": portOf(t, sa.URL), "B": portOf(t, sb.URL)}, Timeout: 30 * time.Second, Out: &out,
	})
	if !rep.Passed() {
		t.Fatalf("%+v", rep)
	}
	if bWhenAReady.Load() < 5 {
		t.Errorf("B was asked %d times before A answered: not polled together", bWhenAReady.Load())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "A ready") || !strings.Contains(lines[1], "B ready") {
		t.Errorf("lines out of order:\n%s", out.String())
	}
}

// A TCP check through a proxy (Docker's for a published port, an SSH forward) sees its
// connection accepted and closed at once while nothing listens behind it: that is not
// ready. Here the "proxy" closes its first three connections, then holds them open.
func TestATCPCheckIsNotFooledByAProxyWithNothingBehindIt(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if accepted.Add(1) <= 3 {
				c.Close() // the service behind the proxy refused it
				continue
			}
			go func() { time.Sleep(time.Second); c.Close() }()
		}
	}()
	var out bytes.Buffer
	rep := Run(context.Background(), Options{
		Checks:  []config.Check{{Name: "Database", Kind: config.CheckTCP, PortEnv: "DB_PORT"}},
		Ports:   map[string]int{"DB_PORT": l.Addr().(*net.TCPAddr).Port},
		Timeout: 5 * time.Second, Poll: 5 * time.Millisecond, Out: &out,
	})
	if !rep.Passed() || accepted.Load() != 4 {
		t.Fatalf("passed=%v after %d connections, want a pass on the 4th (the first held open):\n%s", rep.Passed(), accepted.Load(), out.String())
	}
	rep = Run(context.Background(), Options{
		Checks:  []config.Check{{Name: "Database", Kind: config.CheckTCP, PortEnv: "DB_PORT"}},
		Ports:   map[string]int{"DB_PORT": closingListener(t)},
		Timeout: 300 * time.Millisecond, Out: &out,
	})
	if rep.Passed() || !strings.Contains(out.String(), "closed at once (nothing listens behind the port's proxy yet)") {
		t.Fatalf("a port whose every connection is closed at once passed:\n%s", out.String())
	}
}

// closingListener is a port that accepts every connection and closes it at once.
func closingListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// A gate its caller ends (a container died, the user pressed Ctrl-C) says its checks
// were stopped, not that they timed out.
func TestAGateEndedByItsCallerSaysStoppedNotTimeout(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, stop := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { stop(errors.New("web died")) })
	var out bytes.Buffer
	start := time.Now()
	rep := Run(ctx, Options{Checks: []config.Check{{Name: "Web", Kind: config.CheckTCP, PortEnv: "P"}}, Ports: map[string]int{"P": dead}, Timeout: time.Minute, Out: &out})
	if d := time.Since(start); rep.Passed() || d > 5*time.Second {
		t.Fatalf("passed %v after %s", rep.Passed(), d)
	}
	if !strings.Contains(out.String(), "✗ Web failed: stopped: connect 127.0.0.1:") || strings.Contains(out.String(), "timeout") {
		t.Errorf("output:\n%s", out.String())
	}
}
