package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
)

// TestNewNamesWhatIsMissingAndFillsTheRest: a half-built Env is refused with the part it
// lacks (a zero Env used to panic on its nil clock or progress deep inside an operation).
func TestNewNamesWhatIsMissingAndFillsTheRest(t *testing.T) {
	whole := Env{Config: acme(), Home: "/home/me", Cwd: "/home/me/repo", Git: newFakeGit(), Docker: newFakeDocker(), Secrets: fakeSecrets{}}
	e, err := New(whole)
	if err != nil {
		t.Fatal(err)
	}
	if e.Now == nil || e.Progress == nil || e.Ask == nil || e.In == nil || e.Out == nil || e.Err == nil {
		t.Errorf("defaults not filled: %+v", e)
	}
	if _, err := e.Ask("sure?"); err == nil {
		t.Error("an Env with nobody to ask said yes or no")
	}
	e.Progress.Step("nobody hears this")
	for name, broken := range map[string]func(*Env){
		"Home":    func(e *Env) { e.Home = "" },
		"Cwd":     func(e *Env) { e.Cwd = "relative/dir" },
		"Git":     func(e *Env) { e.Git = nil },
		"Docker":  func(e *Env) { e.Docker = nil },
		"Secrets": func(e *Env) { e.Secrets = nil },
	} {
		w := whole
		broken(&w)
		if _, err := New(w); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s missing: %v", name, err)
		}
	}
	w := whole
	w.Config = config.New("acme") // no ports: the table's own check speaks
	if _, err := New(w); !errors.Is(err, config.ErrIncomplete) {
		t.Errorf("incomplete table: %v", err)
	}
}
