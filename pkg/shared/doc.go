// Package shared manages the per-machine shared-data directory (data, models,
// strategies) that every instance mounts: creating it, measuring it, and replacing a
// subdirectory from a source tree so that at every instant it holds either its complete
// old content or its complete new content.
package shared
