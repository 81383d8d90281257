//go:build !linux && !darwin

package shared

func swap(work, dst string) error { return swapByRenames(work, dst) }
