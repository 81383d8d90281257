// Package engine reaches a Docker engine on another host over SSH: it parses and names
// ssh:// endpoints, keeps one tunnel per engine (a control master forwarding a local unix
// socket to the remote Docker socket, plus the instances' ports), asks the host what
// listens there, and copies directories to the same paths on it with rsync. It knows
// nothing of instances or registries; pkg/core decides when a tunnel opens and closes.
package engine
