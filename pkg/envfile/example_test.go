package envfile_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ktrdr/sandbox/pkg/envfile"
)

// Values are written sorted, bare when docker compose and godotenv read them alike,
// single-quoted otherwise, and read back unchanged.
func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "envfile-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, ".env.sandbox")
	if err := envfile.Write(path, map[string]string{"INSTANCE_ID": "acme--x", "NOTE": "two words", "ACME_WEB_PORT": "18081"}); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(path)
	fmt.Print(string(data))
	vars, _ := envfile.Read(path)
	fmt.Println(vars["NOTE"])
	// Output:
	// ACME_WEB_PORT=18081
	// INSTANCE_ID=acme--x
	// NOTE='two words'
	// two words
}
