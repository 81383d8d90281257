// Package core is the tool's operations: create, init, up, down, destroy, list, status,
// logs, shell, doctor, gc, initShared, sync, and (through Env.Snapshots) snapshot,
// snapshots, restore and seeding. Sandboxes and local-prod are one lifecycle with two
// table entries (config.Lifecycle); every operation takes an Env made by New, reaches an
// instance's engine through one binding (local, or a remote engine's tunnel), reports
// progress through Progress, and returns a typed result or an error carrying a typed
// remedy (fail.Remedy). It never prints for a person and never names how its commands
// are run: pkg/targets renders both. The engine is reached only through the Docker and
// Volumes interfaces, so every path is unit-tested with fakes.
package core
