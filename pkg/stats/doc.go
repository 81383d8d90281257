// Package stats measures what each compose project costs: memory and CPU of its running
// containers and the disk its volumes hold, for every project at once, in three bounded
// docker calls that run side by side.
package stats
