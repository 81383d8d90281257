// Package compose drives the docker compose v2 command line. Every call is scoped by
// project name, project directory, compose file and an explicit environment, so one
// instance's command can never reach another's containers.
package compose
