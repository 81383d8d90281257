package targets

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/fail"
)

// TestEveryHintNamesATargetAndFlagsThatExist walks every command a hint or a next step
// can name, in the source of the core and of this package: each fail.Do and s.spell call.
// A call whose kind is a variable must be right for both lifecycles; an action must be a
// constant; the flags are read from the literal parts of the arguments. And no remedy
// text spells one of the tool's flags itself: a flag named in text is checked by nobody.
func TestEveryHintNamesATargetAndFlagsThatExist(t *testing.T) {
	var files []string
	for _, dir := range []string{"../core", "../mcpserver", "."} {
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if !strings.HasSuffix(m, "_test.go") {
				files = append(files, m)
			}
		}
	}
	fset := token.NewFileSet()
	commands, texts := 0, 0
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		below := strings.HasPrefix(file, "../core") || strings.HasPrefix(file, "../mcpserver")
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || spellers[fn.Name.Name] {
				continue // a speller's own body: its callers are checked
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				where := fset.Position(call.Pos()).String()
				switch callee(call) {
				case "fail.Do", "s.spell":
					commands++
					checkCommand(t, where, call)
				case "fail.Say", "fail.Run":
					texts++
					if below && len(call.Args) > 0 {
						if flag := textFlag.FindString(literal(call.Args[0])); flag != "" {
							t.Errorf("%s: a remedy spells the flag %q in its text; name the command with fail.Do", where, strings.TrimSpace(flag))
						}
					}
				}
				return true
			})
		}
	}
	if commands < 40 || texts < 40 {
		t.Fatalf("found %d commands and %d remedy texts: the walk no longer sees the source", commands, texts)
	}
}

// spellers turn a command given to them into text; what they are given is checked where
// they are called.
var spellers = map[string]bool{"spell": true, "writeCompletion": true}

// textFlag is a flag of this tool's shape (-camelCase) in prose; `ss -ltnp` and other
// programs' flags are not.
var textFlag = regexp.MustCompile(`(^|[\s(])-(no[A-Z]\w*|force|name|slot|from|engine|context|seed|volumes|snapshot|json|all|build|timeout|service|follow|tail|keepWorktree|discardChanges|dryRun|minimal|delete|branch|shell|watch|images)\b`)

func callee(call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return x.Name + "." + sel.Sel.Name
}

// literal is the text of a string expression with every non-constant part as "X".
func literal(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.BasicLit:
		if s, err := strconv.Unquote(v.Value); err == nil {
			return s
		}
	case *ast.BinaryExpr:
		return literal(v.X) + literal(v.Y)
	case *ast.ParenExpr:
		return literal(v.X)
	}
	return "X"
}

func checkCommand(t *testing.T, where string, call *ast.CallExpr) {
	t.Helper()
	if len(call.Args) != 3 {
		t.Errorf("%s: %d arguments", where, len(call.Args))
		return
	}
	action, ok := call.Args[1].(*ast.BasicLit)
	if !ok {
		t.Errorf("%s: the action is not a constant, so no test can check it", where)
		return
	}
	name, _ := strconv.Unquote(action.Value)
	args := literal(call.Args[2])
	for _, kind := range kindsOf(call.Args[0]) {
		if err := Check(fail.Do(kind, name, args)); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
}

// kindsOf is the lifecycle a kind expression names, or both when it is a variable.
func kindsOf(e ast.Expr) []string {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		switch sel.Sel.Name {
		case "Sandbox", "KindSandbox":
			return []string{fail.Sandbox}
		case "LocalProd", "KindLocalProd":
			return []string{fail.LocalProd}
		}
	}
	return []string{fail.Sandbox, fail.LocalProd}
}

func TestCheck(t *testing.T) {
	for c, ok := range map[fail.Command]bool{
		fail.Do(fail.Sandbox, "create", "<name> -slot=N -seed=X"): true,
		fail.Do(fail.LocalProd, "up", "-noSecrets"):               true,
		fail.Do(fail.LocalProd, "snapshots", "-all"):              false, // the list is a sandbox target
		fail.Do(fail.LocalProd, "destroy", "-keepWorktree"):       false,
		fail.Do(fail.Sandbox, "up", "-timeout"):                   false, // takes a value
		fail.Do(fail.Sandbox, "down", "now"):                      false,
		fail.Do("other", "up", ""):                                false,
	} {
		if err := Check(c); (err == nil) != ok {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
