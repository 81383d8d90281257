// Package gate is the startability gate: the checks of the configuration, run in order
// under one deadline, each polled until it passes or the deadline passes.
package gate
