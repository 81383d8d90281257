//go:build mage

// The remo project's magefile: a two-service stack meant to run on a remote Docker
// engine (sandbox:create x -engine=ssh://host). The web service bind-mounts a directory
// of the checkout (site/) and one of the shared data (assets/), the two kinds of bind
// mount the tool copies to the engine's host.
package main

import (
	"github.com/ktrdr/sandbox/pkg/config"

	//mage:import
	"github.com/ktrdr/sandbox/pkg/targets"
)

func init() {
	c := config.New("remo")
	c.Ports = []config.Port{
		{Env: "REMO_WEB_PORT", Label: "Web", Standard: 7180, First: 17181, Stride: 1, URL: "http://localhost:%d"},
		{Env: "REMO_DB_PORT", Label: "Database", Standard: 7532, First: 17533, Stride: 1},
	}
	c.Shared = []config.SharedSubdir{{Name: "assets", Env: "REMO_ASSETS_DIR"}}
	c.APIPort = "REMO_WEB_PORT"
	c.LastSandboxSlot = 3
	c.DefaultService = "web"
	c.Gate = []config.Check{
		{Name: "Database", Kind: config.CheckTCP, PortEnv: "REMO_DB_PORT"},
		{Name: "Web", Kind: config.CheckHTTP, PortEnv: "REMO_WEB_PORT", Path: "/api/v1/health", Accept: []int{200}},
	}
	// The demo program comes from the sandbox module at the version go.mod and go.sum pin:
	// they are all its inputs, so an up with neither changed skips the build.
	c.Prepare = []config.Command{{Name: "go", Args: []string{"build", "-trimpath", "-o", "demo/bin/demo", "github.com/ktrdr/sandbox/demo"},
		Env: map[string]string{"CGO_ENABLED": "0"}, Output: "demo/bin/demo", Inputs: []string{"go.mod", "go.sum"}}}
	targets.Config = c
}
