// Package secrets reads an instance's secrets from 1Password through the op command line.
// Values leave this package only as environment entries for the compose process; errors
// and messages name items, fields and variables, never values.
package secrets
