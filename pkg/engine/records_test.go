package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRecords(t *testing.T) {
	r := Records{Path: filepath.Join(t.TempDir(), "engines.json")}
	if m, err := r.Load(); err != nil || len(m) != 0 {
		t.Fatalf("no file: %v %v", m, err)
	}
	far := Engine{Endpoint: "ssh://me@box", Context: "box"}
	if err := r.Set("x--a", far); err != nil {
		t.Fatal(err)
	}
	if err := r.Set("x--b", Engine{}); err != nil { // local: nothing to record
		t.Fatal(err)
	}
	m, err := r.Load()
	if err != nil || len(m) != 1 || m["x--a"] != far {
		t.Fatalf("%v %v", m, err)
	}
	if err := r.Set("x--a", Engine{}); err != nil {
		t.Fatal(err)
	}
	if m, _ := r.Load(); len(m) != 0 {
		t.Errorf("forgotten record kept: %v", m)
	}
	if err := os.WriteFile(r.Path, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Load(); err == nil {
		t.Error("a broken file read as all local")
	}
	if err := r.Set("x--c", far); err == nil {
		t.Error("a broken file was overwritten")
	}
}
