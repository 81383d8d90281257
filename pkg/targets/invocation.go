package targets

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ktrdr/sandbox/pkg/fail"
)

// Invocation is how this repository's users run the targets; every command a hint or a
// next step names is spelled with it. A magefile that imports the targets under an alias
// (//mage:import NAME) or is run with plain `mage` sets it in init.
var Invocation = Runner{Command: "go tool mage"}

// Runner spells the tool's commands as a user types them.
type Runner struct {
	// Command runs a target: "go tool mage" (Mage pinned with Go's tool directive) or "mage".
	Command string
	// Alias is the name of a //mage:import with an alias; it prefixes every target.
	Alias string
}

// namespaces are the Mage namespace of each lifecycle.
var namespaces = map[string]string{fail.Sandbox: "sandbox", fail.LocalProd: "localProd"}

// Target is the name Mage knows a command by, e.g. "sandbox:create".
func (r Runner) Target(c fail.Command) string {
	ns := namespaces[c.Kind]
	if ns == "" {
		ns = namespaces[fail.Sandbox]
	}
	name := ns + ":" + c.Action
	if r.Alias != "" {
		name = r.Alias + ":" + name
	}
	return name
}

// Spell is the whole command line of c.
func (r Runner) Spell(c fail.Command) string {
	parts := []string{r.Command, r.Target(c)}
	if c.Args != "" {
		parts = append(parts, c.Args)
	}
	return strings.Join(parts, " ")
}

// Render spells a remedy.
func (r Runner) Render(fix fail.Remedy) string { return fix.Render(r.Spell) }

// Check reports a command that names no target, a flag its target does not take, or a
// word where only flags may stand: every command a hint or next step names must run as
// written.
func Check(c fail.Command) error {
	ns, ok := namespaces[c.Kind]
	if !ok {
		return fmt.Errorf("command %+v: no lifecycle %q", c, c.Kind)
	}
	target := ns + ":" + c.Action
	allowed, ok := flags[target]
	if !ok {
		return fmt.Errorf("%s: no such target", target)
	}
	for _, word := range strings.Fields(c.Args) {
		if !strings.HasPrefix(word, "-") {
			if target != "sandbox:create" { // the one target with a positional argument
				return fmt.Errorf("%s %s: %q is not a flag", target, c.Args, word)
			}
			continue
		}
		name, _, takesValue := strings.Cut(word, "=")
		want := name
		if takesValue {
			want += "="
		}
		if !slices.Contains(allowed, want) {
			return fmt.Errorf("%s %s: %s takes no %s", target, c.Args, target, want)
		}
	}
	return nil
}
