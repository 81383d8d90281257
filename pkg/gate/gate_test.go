package gate

import (
	"bytes"
	"context"
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
