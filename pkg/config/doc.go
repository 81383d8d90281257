// Package config is the one declarative table behind every name and number the sandbox
// tool uses: instance ids, paths, slots, host ports, env keys, shared-data subdirectories,
// startability checks and the 1Password mapping. A consuming repository starts from
// New("itsname") in its magefile and adds its ports, gate and secrets; KTRDR() is the
// profile of the KTRDR stack. Nothing else in pkg/ hard-codes a project's names.
package config
