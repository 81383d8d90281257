// Package ports decides whether a slot's host ports are free. A port is busy when a bind
// of 127.0.0.1:port fails the way Go's net.Listen does it (SO_REUSEADDR set, so sockets
// left in TIME_WAIT by a stack that just went down do not count).
package ports
