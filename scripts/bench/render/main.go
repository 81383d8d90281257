// Command render prints the stack file the tool renders for a compose project: the
// Swarm benchmark deploys it with plain `docker stack deploy` as its reference.
//
//	docker compose ... config --format json | go run ./scripts/bench/render PROJECT NODE
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ktrdr/sandbox/pkg/stack"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: render PROJECT NODE < compose-config.json")
		os.Exit(2)
	}
	config, err := io.ReadAll(os.Stdin)
	if err == nil {
		var r stack.Rendered
		if r, err = stack.Render(config, stack.Options{Project: os.Args[1], Node: os.Args[2]}); err == nil {
			_, err = os.Stdout.Write(r.File)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
