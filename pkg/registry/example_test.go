package registry_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ktrdr/sandbox/pkg/registry"
)

// Every change is a read-modify-write under the registry's lock; the file lands whole.
func ExampleStore_Update() {
	dir, _ := os.MkdirTemp("", "registry-example")
	defer os.RemoveAll(dir)
	store := registry.Store{Path: filepath.Join(dir, "instances.json")}

	err := store.Update(context.Background(), func(f *registry.File) error {
		f.Instances["acme--feat-x"] = &registry.Instance{InstanceID: "acme--feat-x", Slot: 1, Path: "/work/acme--feat-x", IsWorktree: true}
		f.Instances["acme--feat-10"] = &registry.Instance{InstanceID: "acme--feat-10", Slot: 3, Path: "/work/acme--feat-10"}
		f.Instances["acme--feat-9"] = &registry.Instance{InstanceID: "acme--feat-9", Slot: 2, Path: "/work/acme--feat-9"}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := store.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range f.Sorted() {
		fmt.Println(in.InstanceID, in.Slot, in.IsWorktree)
	}
	// Output:
	// acme--feat-9 2 false
	// acme--feat-10 3 false
	// acme--feat-x 1 true
}
