//go:build !unix

package shared

import (
	"io/fs"
	"os"
)

func sizeAt(_ *os.File, e fs.DirEntry) (int64, error) {
	fi, err := e.Info()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
