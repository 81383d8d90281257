// Package hooks runs a repository's host-side lifecycle hooks: commands from the
// configuration table and executables in <instance>/.sandbox/hooks/<event>, in the
// instance directory, with the instance's variables in their environment, each bounded
// by a timeout, their output shown as it comes. Compose has no host-side hooks
// (docker/compose#6736); this is where a repository runs migrations, seeds, or a
// notification around its stack's lifecycle.
package hooks
