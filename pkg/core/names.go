package core

import (
	"regexp"
	"strings"

	"github.com/ktrdr/sandbox/pkg/fail"
)

// maxSlugLen keeps ids within what compose, Docker and DNS accept as one label.
const maxSlugLen = 48

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify lowercases name and turns every run of other characters into one dash.
func Slugify(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// InstanceID turns a user's name into a safe sandbox id, or says why it cannot.
func (e *Env) InstanceID(name string) (string, error) {
	hint := fail.Say("Use letters, digits and dashes, e.g. feat-x")
	if strings.TrimSpace(name) == "" {
		return "", fail.New(fail.CodeError, hint, "sandbox name is empty")
	}
	if strings.HasPrefix(name, "-") {
		return "", fail.New(fail.CodeError, fail.Run("Flags go after the name: %s", fail.Do(fail.Sandbox, "create", "<name> -slot=N")), "sandbox name %q starts with a dash", name)
	}
	if strings.ContainsAny(name, `/\`) {
		return "", fail.New(fail.CodeError, fail.Say(hint.Text+"; the sandbox directory is always created beside the repository"),
			"sandbox name %q contains a path separator; give a name, not a path", name)
	}
	slug := Slugify(strings.TrimPrefix(name, e.Config.IDPrefix))
	if slug == "" {
		return "", fail.New(fail.CodeError, hint, "sandbox name %q has no letters or digits", name)
	}
	if len(slug) > maxSlugLen {
		return "", fail.New(fail.CodeError, hint, "sandbox name is %d characters once made safe; at most %d are allowed", len(slug), maxSlugLen)
	}
	return e.Config.IDPrefix + slug, nil
}
