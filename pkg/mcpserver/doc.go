// Package mcpserver serves the sandbox operations to coding agents over the Model Context
// Protocol (github.com/modelcontextprotocol/go-sdk). It is a fourth front end beside the
// targets' text, JSON and completion: each tool calls the pkg/core operation the matching
// target calls and returns that operation's typed result as structured content, with one
// short line of text. A refusal is a tool error carrying the "Error:" and "Hint:" lines a
// person sees from the target, never a protocol error, so the agent can act on the hint.
//
// The safety is the server's, not the agent's: destroy needs confirm equal to the
// instance's name and refuses uncommitted work unless discardChanges is also given;
// local-prod is read-only (status, logs, snapshots) unless the server was started with
// AllowLocalProd; the environment a resource shows never holds a secret.
//
// The package knows nothing of Mage: it takes a function that builds a core.Env for a
// directory, and the speller of commands a hint names.
package mcpserver
