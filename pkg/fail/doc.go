// Package fail carries what the user must see when a command fails: one line saying what
// failed, a remedy saying what to do, and the documented exit code. A remedy names the
// tool's own commands as typed values (which lifecycle, which action, which flags), never
// as text: only the top layer knows how its users spell them.
package fail
