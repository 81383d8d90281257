// Package envfile writes and reads .env.sandbox. The writer quotes by its own rules
// because docker compose and godotenv disagree on escapes: a value is written bare when it
// holds only characters both read literally, single-quoted when it holds others (both
// take single quotes literally), and refused when neither form can carry it. The reader
// is godotenv.
package envfile
