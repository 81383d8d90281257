// Package core is the tool's operations: create, init, up, down, destroy, list, status,
// logs, shell, doctor, gc and initShared. Sandboxes and local-prod are one lifecycle with
// two table entries (config.Lifecycle); every operation takes an Env, reports progress
// through Progress, and returns a typed result or an error carrying a typed remedy
// (fail.Remedy). It never prints for a person and never names how its commands are run:
// pkg/targets renders both.
package core
