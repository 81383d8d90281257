// Command demo plays every role of the demo stack in docker-compose.sandbox.yml, so the
// sandbox tool can be exercised for real without pulling an image: one static binary,
// one FROM-scratch image, a role per service.
//
//	demo backend      API on :8000 — /api/v1/health, /api/v1/workers, /api/v1/data, /api/v1/rows
//	demo worker       registers itself with the backend over compose DNS, serves /health
//	demo db           a TCP service on :5432 keeping rows (and a start count) in its volume
//	demo http PORT..  answers 200 on every path of each port (jaeger, grafana, prometheus)
//	demo idle         waits for a stop signal (mcp-local)
//	demo mcp-stdio    a line-per-request stdio loop for `docker exec -i` clients
//	demo probe URL    exits 0 when URL answers 2xx (container healthchecks)
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	// The image has no shell or coreutils; the binary is also /bin/ls and /bin/sh so
	// `docker exec <c> ls /app/data` and `sandbox:shell` work in it.
	switch filepath.Base(os.Args[0]) {
	case "ls":
		os.Exit(listDirs(os.Stdout, os.Args[1:]))
	case "sh":
		os.Exit(miniShell(os.Stdin, os.Stdout))
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demo backend|worker|db|http PORT...|idle|mcp-stdio|probe URL")
		os.Exit(2)
	}
	// As PID 1 in a scratch container nothing else turns SIGTERM into an exit, and
	// docker would wait out the grace period on every stop.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch role, args := os.Args[1], os.Args[2:]; role {
	case "backend":
		err = runBackend(ctx, env("LISTEN", ":8000"))
	case "worker":
		err = runWorker(ctx)
	case "db":
		err = runDB(ctx, env("LISTEN", ":5432"), env("DATA_DIR", "/var/lib/postgresql/data"))
	case "http":
		err = runHTTP(ctx, args)
	case "idle":
		<-ctx.Done()
	case "mcp-stdio":
		err = runMCP(ctx, os.Stdin, os.Stdout, env("BACKEND_URL", "http://backend:8000"))
	case "probe":
		err = probe(args)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Printf("%s: %v", os.Args[1], err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// serve runs handler on addr until ctx ends.
func serve(ctx context.Context, addr string, handler http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Worker is one registered worker.
type Worker struct {
	ID       string    `json:"worker_id"`
	Type     string    `json:"worker_type"`
	URL      string    `json:"endpoint_url"`
	LastSeen time.Time `json:"last_seen"`
}

// Registry holds the workers that registered recently; one that stops re-registering
// drops out after ttl, the way a real backend forgets a dead worker.
type Registry struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	workers map[string]Worker
}

func NewRegistry(ttl time.Duration, now func() time.Time) *Registry {
	return &Registry{ttl: ttl, now: now, workers: map[string]Worker{}}
}

// Register records or refreshes a worker.
func (r *Registry) Register(w Worker) error {
	if w.ID == "" || w.URL == "" {
		return errors.New("worker_id and endpoint_url are required")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w.LastSeen = r.now()
	r.workers[w.ID] = w
	return nil
}

// Live lists the workers seen within ttl, by id.
func (r *Registry) Live() []Worker {
	r.mu.Lock()
	defer r.mu.Unlock()
	cutoff := r.now().Add(-r.ttl)
	out := []Worker{}
	for id, w := range r.workers {
		if w.LastSeen.Before(cutoff) {
			delete(r.workers, id)
			continue
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func backendHandler(reg *Registry, dbAddr, dataDir string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) {
		conn, err := net.DialTimeout("tcp", dbAddr, time.Second)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "database": err.Error()})
			return
		}
		conn.Close()
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy", "environment": env("KTRDR_ENV", "development")})
	})
	mux.HandleFunc("GET /api/v1/rows", func(w http.ResponseWriter, r *http.Request) {
		rows, err := dbCall(dbAddr, "ROWS", true)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"rows": append([]string{}, rows...)})
	})
	mux.HandleFunc("POST /api/v1/rows", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		row := strings.TrimSpace(strings.ReplaceAll(string(body), "\n", " "))
		if row == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "empty row"})
			return
		}
		if _, err := dbCall(dbAddr, "APPEND "+row, false); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "stored"})
	})
	mux.HandleFunc("GET /api/v1/workers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"workers": reg.Live()})
	})
	mux.HandleFunc("POST /api/v1/workers/register", func(w http.ResponseWriter, r *http.Request) {
		var wk Worker
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&wk); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := reg.Register(wk); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "registered"})
	})
	mux.HandleFunc("GET /api/v1/data", func(w http.ResponseWriter, r *http.Request) {
		entries, err := os.ReadDir(dataDir)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		writeJSON(w, http.StatusOK, map[string]any{"dir": dataDir, "files": names})
	})
	mux.HandleFunc("GET /api/v1/docs", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "demo backend: /api/v1/health /api/v1/workers /api/v1/data")
	})
	return mux
}

func runBackend(ctx context.Context, addr string) error {
	if env("KTRDR_ENV", "") == "production" && env("DB_PASSWORD", "localdev") == "localdev" {
		log.Printf("warning: production mode with the default database password (started with -noSecrets?)")
	}
	reg := NewRegistry(15*time.Second, time.Now)
	log.Printf("backend listening on %s", addr)
	return serve(ctx, addr, backendHandler(reg, env("DB_ADDR", "db:5432"), env("DATA_DIR", "/app/data")))
}

func runWorker(ctx context.Context) error {
	port := env("WORKER_PORT", "5003")
	self := Worker{
		ID:   env("WORKER_ID", env("HOSTNAME", "worker")),
		Type: env("WORKER_TYPE", "backtesting"),
		URL:  env("WORKER_PUBLIC_BASE_URL", "http://localhost:"+port),
	}
	backend := env("BACKEND_URL", "http://backend:8000")
	go func() {
		client := &http.Client{Timeout: 3 * time.Second}
		body, _ := json.Marshal(self)
		for {
			resp, err := client.Post(backend+"/api/v1/workers/register", "application/json", strings.NewReader(string(body)))
			if err == nil {
				resp.Body.Close()
			}
			wait := 5 * time.Second
			if err != nil || resp.StatusCode != http.StatusOK {
				wait = time.Second // backend not up yet: retry soon
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy", "worker_id": self.ID, "worker_type": self.Type})
	})
	return serve(ctx, ":"+port, mux)
}

func runDB(ctx context.Context, addr, dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	marker := filepath.Join(dataDir, "starts")
	n := 0
	if b, err := os.ReadFile(marker); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if err := os.WriteFile(marker, []byte(strconv.Itoa(n+1)+"\n"), 0o644); err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("db listening on %s (start %d of this volume)", addr, n+1)
	go func() { <-ctx.Done(); l.Close() }()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go serveDB(c, dataDir)
	}
}

// rowsMu serializes appends to the rows file of this db.
var rowsMu sync.Mutex

// serveDB answers a line protocol on one connection: "APPEND text" adds a row to the
// volume's rows file (fsynced), "ROWS" lists them one per line and ends with ".". Any
// other line (or none: the gate's TCP probe) is ignored.
func serveDB(c net.Conn, dataDir string) {
	defer c.Close()
	rows := filepath.Join(dataDir, "rows")
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "APPEND":
			rowsMu.Lock()
			f, err := os.OpenFile(rows, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err == nil {
				_, err = f.WriteString(arg + "\n")
				if err == nil {
					err = f.Sync()
				}
				f.Close()
			}
			rowsMu.Unlock()
			if err != nil {
				fmt.Fprintf(c, "ERR %v\n", err)
				continue
			}
			fmt.Fprintln(c, "OK")
		case "ROWS":
			b, _ := os.ReadFile(rows)
			fmt.Fprintf(c, "%s.\n", b)
		}
	}
}

// dbCall sends one command to the db and returns its reply lines up to the last.
func dbCall(addr, line string, multi bool) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(c)
	var out []string
	for sc.Scan() {
		if !multi {
			if strings.HasPrefix(sc.Text(), "ERR") {
				return nil, errors.New(sc.Text())
			}
			return []string{sc.Text()}, nil
		}
		if sc.Text() == "." {
			return out, nil
		}
		out = append(out, sc.Text())
	}
	return nil, fmt.Errorf("db closed the connection: %v", sc.Err())
}

func runHTTP(ctx context.Context, ports []string) error {
	if len(ports) == 0 {
		return errors.New("http needs at least one port")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	errs := make(chan error, len(ports))
	for _, p := range ports {
		go func() { errs <- serve(ctx, ":"+p, mux) }()
	}
	for range ports {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// runMCP answers each input line with the backend's health, one JSON line per request.
func runMCP(ctx context.Context, in io.Reader, out io.Writer, backend string) error {
	sc := bufio.NewScanner(in)
	client := &http.Client{Timeout: 3 * time.Second}
	for sc.Scan() && ctx.Err() == nil {
		reply := map[string]any{"request": sc.Text()}
		resp, err := client.Get(backend + "/api/v1/health")
		if err != nil {
			reply["error"] = err.Error()
		} else {
			reply["backend_status"] = resp.StatusCode
			resp.Body.Close()
		}
		if err := json.NewEncoder(out).Encode(reply); err != nil {
			return err
		}
	}
	return sc.Err()
}

func probe(args []string) error {
	if len(args) != 1 {
		return errors.New("probe needs one URL")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(args[0])
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %d", args[0], resp.StatusCode)
	}
	return nil
}

// listDirs prints the names in each directory, like a bare ls.
func listDirs(w io.Writer, dirs []string) int {
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	status := 0
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ls:", err)
			status = 1
			continue
		}
		for _, e := range entries {
			fmt.Fprintln(w, e.Name())
		}
	}
	return status
}

// miniShell understands ls, cat, echo, env and exit: enough to look around a container.
func miniShell(in io.Reader, out io.Writer) int {
	fmt.Fprintln(out, "demo shell: ls [DIR...], cat FILE..., echo ..., env, exit")
	sc := bufio.NewScanner(in)
	for fmt.Fprint(out, "$ "); sc.Scan(); fmt.Fprint(out, "$ ") {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "exit":
			return 0
		case "ls":
			listDirs(out, f[1:])
		case "cat":
			for _, name := range f[1:] {
				b, err := os.ReadFile(name)
				if err != nil {
					fmt.Fprintln(out, "cat:", err)
					continue
				}
				out.Write(b)
			}
		case "echo":
			fmt.Fprintln(out, strings.Join(f[1:], " "))
		case "env":
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") || strings.Contains(k, "KEY") {
					fmt.Fprintln(out, k+"=(hidden)")
					continue
				}
				fmt.Fprintln(out, kv)
			}
		default:
			fmt.Fprintf(out, "%s: not available in the demo shell\n", f[0])
		}
	}
	fmt.Fprintln(out)
	return 0
}
