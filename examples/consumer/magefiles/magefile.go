//go:build mage

// The acme project's magefile: the sandbox targets with acme's own table. Every name
// (ids acme--<name>, state under ~/.acme, local-prod acme-prod) follows from
// config.New("acme"); the ports, gate and default service are acme's.
package main

import (
	"github.com/ktrdr/sandbox/pkg/config"

	//mage:import
	"github.com/ktrdr/sandbox/pkg/targets"
)

func init() {
	c := config.New("acme")
	c.Ports = []config.Port{
		{Env: "ACME_WEB_PORT", Label: "Web", Standard: 7080, First: 17081, Stride: 1, URL: "http://localhost:%d"},
		{Env: "ACME_DB_PORT", Label: "Database", Standard: 7432, First: 17433, Stride: 1},
	}
	c.APIPort = "ACME_WEB_PORT"
	c.Headline = []string{"ACME_WEB_PORT"}
	c.LastSandboxSlot = 2 // two sandboxes at most on this project
	c.DefaultService = "web"
	c.Gate = []config.Check{
		{Name: "Database", Kind: config.CheckTCP, PortEnv: "ACME_DB_PORT"},
		{Name: "Web", Kind: config.CheckHTTP, PortEnv: "ACME_WEB_PORT", Path: "/api/v1/health", Accept: []int{200}},
	}
	// The image copies in the demo program of the sandbox repository; build it (Go
	// caches it) before compose builds a missing image.
	c.Prepare = []config.Command{{
		Name: "go",
		Args: []string{"build", "-trimpath", "-o", "demo/bin/demo", "github.com/ktrdr/sandbox/demo"},
		Env:  map[string]string{"CGO_ENABLED": "0"},
	}}
	targets.Config = c
}
