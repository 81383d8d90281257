package shared

import (
	"os"
	"testing"
)

func TestFreeBytes(t *testing.T) {
	n, err := FreeBytes(t.TempDir())
	if err != nil || n <= 0 {
		t.Errorf("free %d, %v", n, err)
	}
	if _, err := FreeBytes(t.TempDir() + "/missing"); !os.IsNotExist(err) {
		t.Errorf("missing path: %v", err)
	}
}
