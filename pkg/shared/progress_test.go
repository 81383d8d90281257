package shared

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLineProgressPrintsPeriodically(t *testing.T) {
	var out syncBuffer
	p := NewProgress(&out, "data/", false, 20*time.Millisecond)
	p.Start(Stats{Files: 2, Bytes: 2 << 20})
	p.Add(1 << 20)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "data/ 1.0 MB of 2.0 MB (50%") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Finish()
	if !strings.Contains(out.String(), "data/ 1.0 MB of 2.0 MB (50%") {
		t.Fatalf("no progress line: %q", out.String())
	}
	after := out.String()
	time.Sleep(60 * time.Millisecond)
	if out.String() != after {
		t.Fatal("progress lines continue after Finish")
	}
}

func TestBarProgressShowsBytesAndRate(t *testing.T) {
	var out syncBuffer
	p := NewProgress(&out, "models/", true, 0)
	p.Start(Stats{Files: 1, Bytes: 10 << 20})
	for i := 0; i < 10; i++ {
		p.Add(1 << 20)
		time.Sleep(15 * time.Millisecond)
	}
	p.Finish()
	if s := out.String(); !strings.Contains(s, "models/") || !strings.Contains(s, "MB") {
		t.Fatalf("bar output: %q", s)
	}
}
