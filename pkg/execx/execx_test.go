package execx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestArgumentsAreNotExpanded(t *testing.T) {
	out, err := Output(context.Background(), Cmd{Name: "echo", Args: []string{"$HOME", "a b", "`x`"}, Env: []string{"HOME=/nope"}})
	if err != nil || out != "$HOME a b `x`\n" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestExplicitEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	out, err := Output(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo $ONLY; pwd"}, Env: []string{"ONLY=this"}, Dir: dir})
	if err != nil || !strings.HasPrefix(out, "this\n") || !strings.Contains(out, dir) {
		t.Fatalf("%q %v", out, err)
	}
}

func TestFailuresSayWhat(t *testing.T) {
	_, err := Output(context.Background(), Cmd{Name: "no-such-program-here"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing program: %v", err)
	}
	_, err = Output(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo line one >&2; echo line two >&2; exit 3"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Stderr != "line one line two" {
		t.Fatalf("exit error: %#v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error spans lines: %q", err)
	}
}

func TestTimeoutStopsAHungProgram(t *testing.T) {
	start := time.Now()
	err := Run(context.Background(), Cmd{Name: "sleep", Args: []string{"30"}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestCancelStopsAProgram(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	err := Run(ctx, Cmd{Name: "sleep", Args: []string{"30"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestLookupEnvReadsAsACommandWould(t *testing.T) {
	env := []string{"A=1", "B=", "A=2"}
	if v, ok := LookupEnv(env, "A"); v != "2" || !ok {
		t.Errorf("A = %q %v, want the last one", v, ok)
	}
	if v, ok := LookupEnv(env, "B"); v != "" || !ok {
		t.Errorf("B = %q %v, want set and empty", v, ok)
	}
	if _, ok := LookupEnv(env, "C"); ok {
		t.Error("C is not set")
	}
	t.Setenv("SANDBOX_LOOKUP_TEST", "mine")
	if v, ok := LookupEnv(nil, "SANDBOX_LOOKUP_TEST"); v != "mine" || !ok {
		t.Errorf("a nil env is this process's: %q %v", v, ok)
	}
}
