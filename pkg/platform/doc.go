// Package platform knows what an engine is: the OS and CPU its containers run as (what
// binaries copied into images must be built for), its memory and CPUs, and whether it
// is Docker Desktop's VM. It asks `docker info` once and honours DOCKER_DEFAULT_PLATFORM
// as Docker's own command lines do, so a Mac (darwin/arm64) driving a Linux engine
// builds linux/arm64 binaries, and an amd64 laptop driving an ARM server builds for ARM.
package platform
