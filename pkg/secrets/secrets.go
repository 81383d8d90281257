package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/execx"
)

// The three ways fetching can fail, each with its own remedy.
var (
	ErrNotInstalled = errors.New("1Password CLI (op) not installed (install it from 1password.com/downloads/command-line, or pass -noSecrets)")
	ErrNotSignedIn  = errors.New("not signed in to 1Password (run: eval $(op signin), or pass -noSecrets)")
	ErrItemMissing  = errors.New("item not found in 1Password")
)

// Values are secrets by env variable. Its String and GoString never show the values.
type Values map[string]string

func (v Values) String() string   { return "secrets" + fmt.Sprint(v.Names()) }
func (v Values) GoString() string { return v.String() }

// Names are the variables set, sorted.
func (v Values) Names() []string {
	n := make([]string, 0, len(v))
	for k := range v {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// OP is the 1Password provider.
type OP struct {
	Env []string // environment for op (nil: the process's)
}

// Fetch reads item and maps its CONCEALED fields by label.
func (o OP) Fetch(ctx context.Context, item string, fields []config.SecretField) (Values, error) {
	out, err := execx.Output(ctx, execx.Cmd{Name: "op", Args: []string{"item", "get", item, "--format", "json"}, Env: o.Env, Timeout: 30 * time.Second})
	if errors.Is(err, execx.ErrNotFound) {
		return nil, ErrNotInstalled
	}
	if err != nil {
		var ee *execx.ExitError
		msg := ""
		if errors.As(err, &ee) {
			msg = strings.ToLower(ee.Stderr)
		}
		switch {
		case containsAny(msg, "signed in", "signin", "sign in", "session expired", "no account", "authorization"):
			return nil, ErrNotSignedIn
		case containsAny(msg, "isn't an item", "not found", "no item"):
			return nil, fmt.Errorf("%w: %q (create it with fields %s, or pass -noSecrets)", ErrItemMissing, item, labels(fields))
		}
		// op's own message is not echoed: it can quote the request, never a value, but
		// keeping it out makes that a rule rather than a hope.
		return nil, fmt.Errorf("op item get %q failed (exit status %d; run it by hand to see why)", item, exitCode(err))
	}
	return parseItem([]byte(out), fields)
}

func parseItem(data []byte, fields []config.SecretField) (Values, error) {
	var item struct {
		Fields []struct {
			Label string `json:"label"`
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(data, &item); err != nil {
		return nil, errors.New("op printed something that is not an item in JSON (is op up to date?)")
	}
	byLabel := map[string]string{}
	for _, f := range fields {
		byLabel[f.Label] = f.Env
	}
	vals := Values{}
	for _, f := range item.Fields {
		if f.Type != "CONCEALED" {
			continue
		}
		if env, ok := byLabel[f.Label]; ok && f.Value != "" {
			vals[env] = f.Value
		}
	}
	return vals, nil
}

func labels(fields []config.SecretField) string {
	l := make([]string, len(fields))
	for i, f := range fields {
		l[i] = f.Label
	}
	return strings.Join(l, ", ")
}

func exitCode(err error) int {
	var ee *execx.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
