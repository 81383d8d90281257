package shared_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ktrdr/sandbox/pkg/shared"
)

// Replace makes a destination equal to a source; a run over unchanged data copies
// nothing. Inspect reports sizes as status shows them.
func ExampleReplace() {
	root, _ := os.MkdirTemp("", "shared-example")
	defer os.RemoveAll(root)
	src, dst := filepath.Join(root, "checkout", "data"), filepath.Join(root, "shared", "data")
	_ = os.MkdirAll(src, 0o755)
	_ = os.MkdirAll(filepath.Dir(dst), 0o755) // the shared directory exists; Replace fills one subdirectory
	_ = os.WriteFile(filepath.Join(src, "prices.csv"), make([]byte, 1536), 0o644)

	first, err := shared.Replace(context.Background(), src, dst, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := shared.Replace(context.Background(), src, dst, nil)
	fmt.Println("first copied:", first.Copied, "again up to date:", again.UpToDate)

	rep := shared.Inspect(filepath.Join(root, "shared"), []string{"data"})
	for _, sd := range rep.Subdirs {
		fmt.Printf("%s/: %s (%d files)\n", sd.Name, shared.FormatSize(sd.Bytes), sd.Files)
	}
	// Output:
	// first copied: 1 again up to date: true
	// data/: 1.5 KB (1 files)
}
