package core

import (
	"context"
	"testing"
	"time"

	"github.com/ktrdr/sandbox/pkg/compose"
)

func TestANodeIsReachedWithTheManagersUserAndPort(t *testing.T) {
	for manager, want := range map[string]string{
		"ssh://root@10.0.0.1":      "ssh://root@10.0.0.2",
		"ssh://me@manager:2222":    "ssh://me@10.0.0.2:2222",
		"ssh://manager.example.io": "ssh://10.0.0.2",
	} {
		if got := nodeEndpoint(manager, "10.0.0.2"); got != want {
			t.Errorf("nodeEndpoint(%s) = %s, want %s", manager, got, want)
		}
	}
}

// The configuration asked while up prepares is read twice on a Swarm (for the bind mounts
// and for the stack file): the second read must not wait for an answer already taken.
func TestTheEarlyComposeConfigCanBeReadTwice(t *testing.T) {
	w := newWorld(t)
	config := w.at(w.repo).configAsync(context.Background(), compose.Project{Name: "acme--a"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err1 := config()
		_, err2 := config()
		if err1 == nil || err1 != err2 {
			t.Errorf("two reads: %v, %v", err1, err2)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the second read waits forever")
	}
}
