package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/config"
)

const item = `{"id":"x","title":"ktrdr-sandbox-dev","fields":[
 {"id":"a","label":"db_password","type":"CONCEALED","value":"s3cret-db"},
 {"id":"b","label":"jwt_secret","type":"CONCEALED","value":"s3cret-jwt"},
 {"id":"c","label":"username","type":"STRING","value":"bob"},
 {"id":"d","label":"anthropic_api_key","type":"STRING","value":"not-concealed"},
 {"id":"e","label":"notesPlain","type":"STRING","value":""}]}`

// fakeOP writes an `op` script that prints out, or fails with stderr and code.
func fakeOP(t *testing.T, stdout, stderr string, code int) []string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"stdout": stdout, "stderr": stderr} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := fmt.Sprintf("#!/bin/sh\ncat '%s/stdout'\ncat '%s/stderr' >&2\nexit %d\n", dir, dir, code)
	if err := os.WriteFile(filepath.Join(dir, "op"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + dir + ":/usr/bin:/bin"}
}

func TestFetchMapsConcealedFieldsOnly(t *testing.T) {
	t.Setenv("PATH", fakeOP(t, item, "", 0)[0][5:])
	vals, err := OP{}.Fetch(context.Background(), "ktrdr-sandbox-dev", config.KTRDR().Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if vals["DB_PASSWORD"] != "s3cret-db" || vals["JWT_SECRET"] != "s3cret-jwt" || len(vals) != 2 {
		t.Fatalf("got %v", vals.Names())
	}
	if s := fmt.Sprintf("%v %+v %#v %s", vals, vals, vals, vals); strings.Contains(s, "s3cret") {
		t.Fatalf("formatting shows a value: %s", s)
	}
}

func TestFetchFailuresAreDistinctAndCarryNoValue(t *testing.T) {
	cases := []struct {
		name, stderr string
		want         error
	}{
		{"not signed in", `[ERROR] 2026/01/01 00:00:00 You are not currently signed in. Please run "op signin --help"`, ErrNotSignedIn},
		{"no accounts", `[ERROR] 2026/01/01 00:00:00 no accounts configured for use with 1Password CLI`, ErrNotSignedIn},
		{"item missing", `[ERROR] 2026/01/01 00:00:00 "ktrdr-sandbox-dev" isn't an item. Specify the item with its UUID, name, or domain.`, ErrItemMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PATH", fakeOP(t, "", c.stderr, 1)[0][5:])
			_, err := OP{}.Fetch(context.Background(), "ktrdr-sandbox-dev", config.KTRDR().Secrets)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("not installed", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := OP{}.Fetch(context.Background(), "x", nil)
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("other failure does not echo op", func(t *testing.T) {
		t.Setenv("PATH", fakeOP(t, "", "weird failure quoting s3cret", 3)[0][5:])
		_, err := OP{}.Fetch(context.Background(), "x", nil)
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "exit status 3") {
			t.Fatalf("err = %v", err)
		}
	})
}
