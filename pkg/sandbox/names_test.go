package sandbox

import (
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/instance"
)

func TestInstanceID(t *testing.T) {
	s := Sandboxes{Host: &instance.Host{Config: config.KTRDR()}}
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
		if _, err := s.InstanceID(bad); err == nil || fail.Code(err) != fail.CodeError || fail.Hint(err) == "" {
			t.Errorf("InstanceID(%q) err = %v, want a refusal with a hint", bad, err)
		}
	}
}
