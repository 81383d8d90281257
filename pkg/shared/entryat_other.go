//go:build !unix

package shared

import (
	"io/fs"
	"os"
)

func entryAt(_ *os.File, e fs.DirEntry) (entry, error) {
	fi, err := e.Info()
	if err != nil {
		return entry{}, err
	}
	return entryOf(fi), nil
}
