package core

import "testing"

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
