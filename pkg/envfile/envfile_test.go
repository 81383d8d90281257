package envfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatIsSortedAndRoundTrips(t *testing.T) {
	vars := map[string]string{
		"ZED":       "last",
		"A_PATH":    "/home/some one/.ktrdr/shared",
		"EMPTY":     "",
		"URLISH":    "http://localhost:8000/api?x=1",
		"HASH":      "a#b",
		"DOLLAR":    "pa$word",
		"BACKSLASH": `C:\dir\x`,
	}
	data, err := Format(vars)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i-1] > lines[i] {
			t.Errorf("not sorted: %q before %q", lines[i-1], lines[i])
		}
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		if back[k] != v {
			t.Errorf("%s: wrote %q, read back %q (file: %s)", k, v, back[k], data)
		}
	}
}

func TestFormatRefusesWhatNoFormatCarries(t *testing.T) {
	for _, v := range []string{"it's", "two\nlines", "cr\r", " lead", "trail ", `ends\`} {
		if _, err := Format(map[string]string{"K": v}); !errors.Is(err, ErrUnwritable) {
			t.Errorf("Format(%q) err = %v, want ErrUnwritable", v, err)
		}
	}
	for _, k := range []string{"1ABC", "A-B", "", "A B"} {
		if _, err := Format(map[string]string{k: "v"}); !errors.Is(err, ErrUnwritable) {
			t.Errorf("key %q err = %v, want ErrUnwritable", k, err)
		}
	}
}

func TestWriteReplacesAtomicallyAndRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".env.sandbox")
	if err := Write(p, map[string]string{"A": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, map[string]string{"B": "2"}); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["B"] != "2" {
		t.Fatalf("Read = %v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestParseHandEditedGarbage(t *testing.T) {
	// Each hand-edited line that cannot mean a variable is refused, naming the problem,
	// and nothing panics; the caller then leaves the file alone.
	for in, want := range map[string]string{
		"=novalue\n":          "assigns \"novalue\" to no name",
		"KEY\n":               "in variable name",
		"KEY='unterminated\n": "unterminated quoted value",
		"\x00\x01\n":          "in variable name",
		"export\n":            "in variable name",
		"OK=1\n=stray\n":      "to no name",
	} {
		vars, err := Parse([]byte(in))
		if err == nil || vars != nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "unreadable env file") {
			t.Errorf("Parse(%q) = %v, %v; want an 'unreadable env file' error containing %q", in, vars, err, want)
		}
	}
}
