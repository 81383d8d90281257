package targets

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// The completion table has every target, each with as many flags as its signature has
// optional (pointer) parameters.
func TestCompletionTableMatchesTheTargets(t *testing.T) {
	seen := 0
	for ns, typ := range map[string]reflect.Type{"sandbox": reflect.TypeOf(Sandbox{}), "localProd": reflect.TypeOf(LocalProd{})} {
		for i := 0; i < typ.NumMethod(); i++ {
			m := typ.Method(i)
			name := ns + ":" + string(unicode.ToLower(rune(m.Name[0]))) + m.Name[1:]
			want, ok := flags[name]
			if !ok {
				t.Errorf("%s has no completion entry", name)
				continue
			}
			seen++
			pointers := 0
			for j := 0; j < m.Type.NumIn(); j++ {
				if m.Type.In(j).Kind() == reflect.Pointer {
					pointers++
				}
			}
			if pointers != len(want) {
				t.Errorf("%s takes %d flags, its completion entry lists %d", name, pointers, len(want))
			}
		}
	}
	if seen != len(flags) {
		t.Errorf("the completion table has %d entries, the targets are %d", len(flags), seen)
	}
}

// bash runs the generated script and completes line as if TAB were pressed at its end.
func bashComplete(t *testing.T, script, line string) []string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "completion.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := `source "$1"; COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; _sandbox_complete; printf '%s\n' "${COMPREPLY[@]}"`
	out, err := exec.Command("bash", "-c", probe, "bash", file, line).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletesTargetsAndFlags(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	var script bytes.Buffer
	if err := writeCompletion(&script, Runner{Command: "go tool mage"}, "bash"); err != nil {
		t.Fatal(err)
	}
	all := bashComplete(t, script.String(), "go tool mage ")
	if len(all) != len(flags) || !strings.Contains(strings.Join(all, " "), "sandbox:create") || !strings.Contains(strings.Join(all, " "), "localProd:destroy") {
		t.Errorf("targets: %v", all)
	}
	// after a colon bash keeps the part before it, so only the rest comes back
	if got := strings.Join(bashComplete(t, script.String(), "go tool mage sandbox:cr"), " "); got != "create" {
		t.Errorf("sandbox:cr → %q", got)
	}
	if got := strings.Join(bashComplete(t, script.String(), "go tool mage sandbox:create feat -no"), " "); got != "-noInclude -noHooks" {
		t.Errorf("create flags → %q", got)
	}
	if got := strings.Join(bashComplete(t, script.String(), "go tool mage localProd:up -"), " "); !strings.Contains(got, "-noSecrets") || strings.Contains(got, "-branch=") {
		t.Errorf("localProd:up flags → %q", got)
	}
}

func TestZshAndFishScriptsListTheTargets(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		var script bytes.Buffer
		if err := writeCompletion(&script, Runner{Command: "mage", Alias: "env"}, shell); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"env:sandbox:create", "env:localProd:status", "-noInclude"} {
			if !strings.Contains(script.String(), want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
	}
	if err := writeCompletion(&bytes.Buffer{}, Invocation, "tcsh"); err == nil {
		t.Error("an unknown shell is accepted")
	}
}
