package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The targets as the compiled magefile lists them are the source of truth: every one is
// documented in docs/reference.md, has a Makefile alias, and that alias passes every flag
// the target takes. None of this needs Docker.

// TestEveryTargetIsDocumentedAndHasAMakefileAlias checks each target of `sandbox -l`
// against docs/reference.md (a "`sandbox:name" or "`localProd:name" mention) and the
// Makefile (a rule whose recipe runs `$(MAGE) <target>`).
func TestEveryTargetIsDocumentedAndHasAMakefileAlias(t *testing.T) {
	targets := listTargets(t)
	reference := readRepoFile(t, "docs", "reference.md")
	rules := makefileRules(t)
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			mention := regexp.MustCompile("`" + regexp.QuoteMeta(target) + `([^A-Za-z0-9_]|$)`)
			if !mention.MatchString(reference) {
				t.Errorf("target %s is not documented in docs/reference.md: add a section or table row naming `%s ...`", target, target)
			}
			if aliasesOf(rules, target) == nil {
				t.Errorf("target %s has no Makefile alias: add a rule `%s:` whose recipe runs `$(MAGE) %s` with its flags (see docs/reference.md#running-targets)", target, aliasName(target), target)
			}
		})
	}
}

// TestEveryTargetFlagHasAMakefileVariable checks that each alias passes every flag its
// target declares (as `sandbox -h <target>` prints them): a value flag through
// $(call flag,VAR,name), a boolean through $(call bool,VAR,name), and each positional
// argument as a $(VAR).
func TestEveryTargetFlagHasAMakefileVariable(t *testing.T) {
	rules := makefileRules(t)
	for _, target := range listTargets(t) {
		t.Run(target, func(t *testing.T) {
			aliases := aliasesOf(rules, target)
			if aliases == nil {
				t.Skipf("target %s has no Makefile alias (TestEveryTargetIsDocumentedAndHasAMakefileAlias reports it)", target)
			}
			args, flags := targetHelp(t, target)
			for alias, recipe := range aliases {
				for _, f := range flags {
					helper := "flag"
					if f.boolean {
						helper = "bool"
					}
					call := regexp.MustCompile(`\$\(call ` + helper + `,[A-Z_][A-Z0-9_]*,` + regexp.QuoteMeta(f.name) + `\)`)
					if !call.MatchString(recipe) {
						t.Errorf("Makefile alias %s does not pass %s's flag -%s: add $(call %s,%s,%s) to its recipe and the variable to docs/reference.md#running-targets",
							alias, target, f.name, helper, strings.ToUpper(f.name), f.name)
					}
				}
				after := recipe[strings.Index(recipe, target)+len(target):]
				plain := regexp.MustCompile(`\$\([A-Z_][A-Z0-9_]*\)`).FindAllString(after, -1)
				if len(plain) != len(args) {
					t.Errorf("Makefile alias %s passes %d positional argument(s) to %s, which takes %d (%s)", alias, len(plain), target, len(args), strings.Join(args, " "))
				}
			}
		})
	}
}

// listTargets runs `sandbox -l` and returns the target names as Mage prints them
// (sandbox:initShared, localProd:up).
func listTargets(t *testing.T) []string {
	t.Helper()
	out := runTargetsBin(t, "-l")
	var names []string
	inTargets := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "Targets:" {
			inTargets = true
			continue
		}
		if !inTargets || !strings.HasPrefix(line, "  ") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		names = append(names, strings.TrimSuffix(fields[0], "*")) // * marks the default target
	}
	if len(names) == 0 {
		t.Fatalf("no targets found in the output of sandbox -l:\n%s", out)
	}
	return names
}

type helpFlag struct {
	name    string
	boolean bool
}

// targetHelp runs `sandbox -h <target>` and returns its positional arguments (`<name>`)
// and its flags.
func targetHelp(t *testing.T, target string) (args []string, flags []helpFlag) {
	t.Helper()
	out := runTargetsBin(t, "-h", target)
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "Usage:" || line == "Flags:":
			section = line
		case line == "":
		case section == "Usage:":
			// mage <target> <arg>... [<flags>]
			words := strings.Fields(line)
			if len(words) < 2 {
				t.Fatalf("unexpected usage line %q in the output of sandbox -h %s", line, target)
			}
			for _, w := range words[2:] {
				if strings.HasPrefix(w, "<") {
					args = append(args, w)
				}
			}
		case section == "Flags:" && strings.HasPrefix(line, "-"):
			name, typ, _ := strings.Cut(strings.TrimPrefix(line, "-"), "=")
			flags = append(flags, helpFlag{name: name, boolean: typ == "<bool>"})
		}
	}
	if section == "" {
		t.Fatalf("no Usage section in the output of sandbox -h %s:\n%s", target, out)
	}
	return args, flags
}

func runTargetsBin(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sandbox"), args...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sandbox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func readRepoFile(t *testing.T, elem ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{repoRoot}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// makefileRules returns each rule of the Makefile with its recipe (its tab-indented
// lines, joined), after joining backslash-continued lines.
func makefileRules(t *testing.T) map[string]string {
	t.Helper()
	text := strings.ReplaceAll(readRepoFile(t, "Makefile"), "\\\n", " ")
	ruleLine := regexp.MustCompile(`^([A-Za-z0-9_.-]+):([^=]|$)`)
	rules := map[string]string{}
	current := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "\t"):
			if current != "" {
				rules[current] += line + "\n"
			}
		case ruleLine.MatchString(line):
			current = ruleLine.FindStringSubmatch(line)[1]
			rules[current] += ""
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		default:
			current = ""
		}
	}
	return rules
}

// aliasesOf returns the rules whose recipe runs `$(MAGE) <target>`, with their recipes.
func aliasesOf(rules map[string]string, target string) map[string]string {
	runs := regexp.MustCompile(`\$\(MAGE\) ` + regexp.QuoteMeta(target) + `(\s|$)`)
	var out map[string]string
	for name, recipe := range rules {
		if runs.MatchString(recipe) {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = recipe
		}
	}
	return out
}

// aliasName is the conventional alias of a target: sandbox:initShared is
// sandbox-init-shared, localProd:up is local-prod-up.
func aliasName(target string) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(target, ":", "-") {
		if unicode.IsUpper(r) {
			b.WriteByte('-')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
