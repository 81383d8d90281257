// Package atomicfile writes a file so that a reader (or a crash) sees either its old
// content or its new content, never a part: github.com/google/renameio on Unix (a temp
// file in the same directory, fsync, rename). renameio does not build for Windows,
// where this tool refuses to run (WSL2 is the way there); the module still has to
// compile for it, so Windows gets the same sequence written out here.
package atomicfile
