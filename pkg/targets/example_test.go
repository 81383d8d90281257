package targets_test

import (
	"fmt"

	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/targets"
)

// Hints name commands as values; the runner spells them the way the repository runs its
// targets: `go tool mage` by default, or plain `mage`, under an import alias if any.
func ExampleRunner_Render() {
	fix := fail.Run("Remove stale entries with: %s", fail.Do(fail.Sandbox, "gc", "-dryRun"))
	fmt.Println(targets.Runner{Command: "go tool mage"}.Render(fix))
	fmt.Println(targets.Runner{Command: "mage", Alias: "env"}.Render(fix))
	// Output:
	// Remove stale entries with: go tool mage sandbox:gc -dryRun
	// Remove stale entries with: mage env:sandbox:gc -dryRun
}
