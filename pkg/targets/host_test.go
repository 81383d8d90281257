package targets

import (
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
)

// TestWindowsIsRefusedWithTheWayOut: every target goes through newEnv, whose first step
// is this check; on Windows it is a usage error (exit 2) that names WSL2.
func TestWindowsIsRefusedWithTheWayOut(t *testing.T) {
	err := hostSupported("windows")
	if err == nil || fail.Code(err) != 2 || !strings.Contains(err.Error(), "WSL2") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("windows: %v (code %d)", err, fail.Code(err))
	}
	if hint := Invocation.Render(fail.FixOf(err)); !strings.Contains(hint, "WSL2") {
		t.Errorf("hint %q", hint)
	}
	for _, goos := range []string{"linux", "darwin"} {
		if err := hostSupported(goos); err != nil {
			t.Errorf("%s refused: %v", goos, err)
		}
	}
}

// TestAMagefileThatSetsNoConfigIsToldWhatToAdd: no default identity, a usage error (exit
// 2) naming the line to add.
func TestAMagefileThatSetsNoConfigIsToldWhatToAdd(t *testing.T) {
	err := configured(config.Config{})
	if err == nil || fail.Code(err) != 2 || !strings.Contains(err.Error(), "targets.Config is not set") ||
		!strings.Contains(Invocation.Render(fail.FixOf(err)), `targets.Config = config.New("yourproject")`) {
		t.Fatalf("%v (code %d, hint %q)", err, fail.Code(err), Invocation.Render(fail.FixOf(err)))
	}
	if err := configured(config.New("acme")); err != nil {
		t.Error(err)
	}
}
