package fail

import (
	"errors"
	"fmt"
	"testing"
)

func TestWithKeepsAnInnerRemedyUnlessGivenOne(t *testing.T) {
	inner := New(CodePorts, Say("stop it"), "port %d busy", 8001)
	wrapped := fmt.Errorf("up: %w", inner)
	if got := With(CodeError, Remedy{}, wrapped); Code(got) != CodePorts || FixOf(got).Text != "stop it" {
		t.Errorf("With without a remedy lost the inner one: code %d fix %+v", Code(got), FixOf(got))
	}
	if got := With(CodeError, Say("other"), wrapped); Code(got) != CodeError || FixOf(got).Text != "other" || !errors.Is(got, inner) {
		t.Errorf("With with a remedy: code %d fix %+v", Code(got), FixOf(got))
	}
	if With(CodeError, Say("x"), nil) != nil {
		t.Error("With(nil) is not nil")
	}
	if plain := errors.New("plain"); Code(plain) != CodeError || !FixOf(plain).IsZero() {
		t.Error("a plain error is not code 1 without a remedy")
	}
}

func TestRenderFillsCommandsInOrder(t *testing.T) {
	fix := Run("Destroy with %s, or clean up with %s", Do(Sandbox, "destroy", "-force"), Do(LocalProd, "gc", ""))
	got := fix.Render(func(c Command) string { return "<" + c.Kind + " " + c.Action + " " + c.Args + ">" })
	if want := "Destroy with <sandbox destroy -force>, or clean up with <local-prod gc >"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if Say("plain %s text").Render(nil) != "plain %s text" {
		t.Error("a remedy without commands is rendered as is")
	}
}
