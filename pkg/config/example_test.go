package config_test

import (
	"fmt"

	"github.com/ktrdr/sandbox/pkg/config"
)

// A project names itself once; every per-project name follows. It then adds its ports,
// and Validate says whether the table is complete.
func ExampleNew() {
	c := config.New("acme")
	fmt.Println(c.IDPrefix, c.RegistryPath("/home/me"), c.SharedPath("/home/me"))
	fmt.Println(c.LocalProd.InstanceID, c.Sandbox.SecretsItem, c.LocalProd.SecretsItem)
	fmt.Println("without ports:", c.Validate())

	c.Ports = []config.Port{{Env: "ACME_WEB_PORT", Label: "Web", Standard: 8080, First: 18081, Stride: 1}}
	c.APIPort = "ACME_WEB_PORT"
	fmt.Println("with a port:", c.Validate())
	fmt.Println("slot 0:", c.PortEnv(0)["ACME_WEB_PORT"], "slot 2:", c.PortEnv(2)["ACME_WEB_PORT"])
	// Output:
	// acme-- /home/me/.acme/sandbox/instances.json /home/me/.acme/shared
	// acme-prod acme-sandbox-dev acme-local-prod
	// without ports: config: APIPort is empty: configuration is incomplete
	// with a port: <nil>
	// slot 0: 8080 slot 2: 18082
}
