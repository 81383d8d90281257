// Package fakeengine serves an HTTP handler on a unix socket, as the Docker engine does,
// for tests of code that speaks the Engine API (pkg/dockerapi and its callers).
package fakeengine

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Serve serves handler on a unix socket in a new temporary directory until the test
// ends, and returns the socket's path (DOCKER_HOST=unix://<path> reaches it).
func Serve(t testing.TB, handler http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "api") // short: a socket path is limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return sock
}
