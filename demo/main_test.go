package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRegistryForgetsWorkersThatStopRegistering(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewRegistry(15*time.Second, func() time.Time { return now })
	if err := r.Register(Worker{ID: "w1", URL: "http://w1:5003"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(Worker{ID: "", URL: "x"}); err == nil {
		t.Fatal("a worker without an id was accepted")
	}
	now = now.Add(10 * time.Second)
	_ = r.Register(Worker{ID: "w2", URL: "http://w2:5004"})
	if n := len(r.Live()); n != 2 {
		t.Fatalf("%d live, want 2", n)
	}
	now = now.Add(10 * time.Second) // w1 last seen 20 s ago
	live := r.Live()
	if len(live) != 1 || live[0].ID != "w2" {
		t.Fatalf("live = %+v", live)
	}
}

func TestBackendAPI(t *testing.T) {
	db, _ := net.Listen("tcp", "127.0.0.1:0")
	defer db.Close()
	data := t.TempDir()
	_ = os.WriteFile(filepath.Join(data, "AAPL_1d.csv"), nil, 0o644)
	srv := httptest.NewServer(backendHandler(NewRegistry(time.Minute, time.Now), db.Addr().String(), data))
	defer srv.Close()

	if resp, _ := http.Get(srv.URL + "/api/v1/health"); resp.StatusCode != 200 {
		t.Fatalf("health %d", resp.StatusCode)
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		body, _ := json.Marshal(Worker{ID: id, URL: "http://" + id})
		resp, err := http.Post(srv.URL+"/api/v1/workers/register", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("register %d: %v %v", i, err, resp)
		}
	}
	resp, _ := http.Get(srv.URL + "/api/v1/workers")
	var w struct{ Workers []Worker }
	_ = json.NewDecoder(resp.Body).Decode(&w)
	if len(w.Workers) != 4 {
		t.Fatalf("%d workers", len(w.Workers))
	}
	resp, _ = http.Get(srv.URL + "/api/v1/data")
	var d struct{ Files []string }
	_ = json.NewDecoder(resp.Body).Decode(&d)
	if len(d.Files) != 1 || d.Files[0] != "AAPL_1d.csv" {
		t.Fatalf("data %v", d.Files)
	}

	db.Close()
	if resp, _ := http.Get(srv.URL + "/api/v1/health"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health with the database down: %d", resp.StatusCode)
	}
}

func TestMiniShellAndLs(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "f.txt"), []byte("hello\n"), 0o644)
	var out bytes.Buffer
	miniShell(strings.NewReader("ls "+dir+"\ncat "+dir+"/f.txt\necho hi there\nnope\nexit\n"), &out)
	for _, want := range []string{"f.txt", "hello", "hi there", "nope: not available"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("shell output lacks %q:\n%s", want, out.String())
		}
	}
}
