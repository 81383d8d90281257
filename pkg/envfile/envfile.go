package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/joho/godotenv"
	"github.com/ktrdr/sandbox/pkg/atomicfile"
)

var (
	keyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// bareValue holds the characters compose and godotenv both read literally unquoted.
	bareValue = regexp.MustCompile(`^[A-Za-z0-9_./:@+,=%-]*$`)
)

// ErrUnwritable is returned for a key or value no format can carry.
var ErrUnwritable = errors.New("cannot be written to an env file")

// Format renders vars as sorted KEY=VALUE lines.
func Format(vars map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		if !keyPattern.MatchString(k) {
			return nil, fmt.Errorf("key %q %w (use letters, digits and _)", k, ErrUnwritable)
		}
		v, err := quote(vars[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		b.WriteString(k + "=" + v + "\n")
	}
	return b.Bytes(), nil
}

func quote(v string) (string, error) {
	if bareValue.MatchString(v) {
		return v, nil
	}
	if strings.ContainsAny(v, "'\n\r\x00") || strings.HasSuffix(v, " ") || strings.HasPrefix(v, " ") ||
		strings.HasSuffix(v, `\`) {
		return "", fmt.Errorf("value %q %w (no quotes, line breaks or edge spaces)", v, ErrUnwritable)
	}
	return "'" + v + "'", nil
}

// Write replaces path atomically with vars.
func Write(path string, vars map[string]string) error {
	data, err := Format(vars)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Read parses path.
func Read(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vars, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vars, nil
}

// Parse reads env-file content. godotenv v1.5.1 panics on no known input, but a file
// edited by hand is hostile input, so a panic is turned into an error all the same.
func Parse(data []byte) (vars map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			vars, err = nil, fmt.Errorf("unreadable env file: %v", r)
		}
	}()
	vars, err = godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, fmt.Errorf("unreadable env file: %w", err)
	}
	// godotenv reads "=value" as a variable with an empty name; no one can mean that.
	if v, ok := vars[""]; ok {
		return nil, fmt.Errorf("unreadable env file: a line assigns %q to no name", v)
	}
	return vars, nil
}
