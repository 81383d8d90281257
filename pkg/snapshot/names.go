package snapshot

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrBadName is wrapped by every Store method given an instance id or a snapshot name
// that is not one plain path component: each becomes a directory under Store.Root, and
// one like "../.." would let Delete remove, or BeginRestore write, outside the store.
var ErrBadName = errors.New("not a plain name")

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName refuses a snapshot name that is not a plain file name.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("snapshot name %q: %w: use up to 64 letters, digits, dots, dashes and underscores", name, ErrBadName)
	}
	return nil
}

// CheckInstance refuses an instance id that could not be one directory of the store. Ids
// are not held to CheckName's rules: the store keeps whatever ids the registry has, and
// only what would leave the store (or name no directory at all) is refused.
func CheckInstance(instance string) error {
	switch {
	case instance == "", instance == ".", strings.HasPrefix(instance, ".."),
		strings.ContainsAny(instance, `/\`+"\x00"):
		return fmt.Errorf("instance id %q: %w: it may not be empty, be \".\", start with \"..\", or hold a slash, a backslash or a NUL", instance, ErrBadName)
	}
	return nil
}

// check is CheckInstance and CheckName together, as the methods that reach one
// snapshot's directory need them.
func check(instance, name string) error {
	if err := CheckInstance(instance); err != nil {
		return err
	}
	return CheckName(name)
}
