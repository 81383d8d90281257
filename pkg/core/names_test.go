package core

import (
	"github.com/ktrdr/sandbox/pkg/compose"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
)

func TestInstanceID(t *testing.T) {
	s := &Env{Config: config.KTRDR()}
	ok := map[string]string{
		"feat-x": "ktrdr--feat-x", "Feat X": "ktrdr--feat-x", "feat__x!!": "ktrdr--feat-x",
		"ktrdr--feat-x": "ktrdr--feat-x", "café": "ktrdr--caf", "a.b.c": "ktrdr--a-b-c",
	}
	for in, want := range ok {
		if got, err := s.InstanceID(in); err != nil || got != want {
			t.Errorf("InstanceID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "  ", "..", "/", "a/b", `a\b`, "-x", "日本", strings.Repeat("a", 49)} {
		if _, err := s.InstanceID(bad); err == nil || fail.Code(err) != fail.CodeError || fail.FixOf(err).IsZero() {
			t.Errorf("InstanceID(%q) err = %v, want a refusal with a hint", bad, err)
		}
	}
}

func TestStateOfCounts(t *testing.T) {
	for c, want := range map[compose.Counts]State{
		{}: NotStarted, {Total: 3}: Stopped, {Running: 3, Total: 3}: Running,
		{Running: 2, Total: 10}: Partial, {Running: 3, Total: 3, Unhealthy: 1}: Unhealthy,
	} {
		if got := StateOf(c); got != want {
			t.Errorf("%+v: %q, want %q", c, got, want)
		}
	}
}
