//go:build mage

// This repository's own magefile: the sandbox targets, configured for the demo stack.
package main

import (
	"github.com/ktrdr/sandbox/pkg/config"

	//mage:import
	"github.com/ktrdr/sandbox/pkg/targets"
)

func init() {
	targets.Config = config.KTRDR()
	// The demo images copy in a static binary; build it (Go caches it) before compose
	// builds any missing image.
	targets.Config.Prepare = []config.Command{{
		Name: "go",
		Args: []string{"build", "-trimpath", "-o", "demo/bin/demo", "./demo"},
		Env:  map[string]string{"CGO_ENABLED": "0"},
		// skipped when the binary is newer than its sources (and built for the engine)
		Output: "demo/bin/demo",
		Inputs: []string{"demo/*.go", "go.mod", "go.sum"},
	}}
}
