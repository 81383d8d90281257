package mcpserver

import (
	"context"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// measuring counts Usage calls; each answers with the count as the memory figure.
type measuring struct {
	core.Docker
	calls chan int
	n     int
}

func (m *measuring) Usage(context.Context, string) (map[string]stats.Usage, error) {
	m.n++
	m.calls <- m.n
	return map[string]stats.Usage{"p": {MemBytes: int64(m.n)}}, nil
}

func TestUsageIsKeptWhileFreshRefreshedBehindWhenStaleAndMeasuredWhenOld(t *testing.T) {
	m := &measuring{calls: make(chan int, 10)}
	var c usageCache
	get := func() int64 {
		t.Helper()
		u, err := c.get(context.Background(), m, "label")
		if err != nil {
			t.Fatal(err)
		}
		return u["p"].MemBytes
	}
	if got := get(); got != 1 {
		t.Fatalf("first get %d, want a measurement", got)
	}
	<-m.calls
	if got := get(); got != 1 || len(m.calls) != 0 {
		t.Fatalf("a fresh figure was measured again (got %d)", got)
	}
	// stale: answered from the kept figure, measured again behind the answer
	c.at = time.Now().Add(-usageFresh - time.Second)
	if got := get(); got != 1 {
		t.Fatalf("stale get %d, want the kept figure", got)
	}
	select {
	case n := <-m.calls:
		if n != 2 {
			t.Fatalf("background measurement %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stale figure was not measured again")
	}
	for deadline := time.Now().Add(5 * time.Second); ; { // kept once it returns
		if time.Now().After(deadline) {
			t.Fatal("the background measurement was not kept")
		}
		c.mu.Lock()
		done := !c.refreshing && c.byProject["p"].MemBytes == 2
		c.mu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// too old to answer with: measured before answering
	c.at = time.Now().Add(-usageMaxAge - time.Second)
	if got := get(); got != 3 {
		t.Fatalf("old get %d, want a new measurement", got)
	}
	// another label is never answered from this one's figures
	if u, _ := c.get(context.Background(), m, "other"); u["p"].MemBytes != 4 {
		t.Fatalf("another label was answered from the cache: %v", u)
	}
}
