package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
)

// Engine is where an instance's containers run: this machine's engine (the zero value)
// or a remote one reached over SSH.
type Engine struct {
	// Endpoint is ssh://[user@]host[:port]; empty for this machine's engine.
	Endpoint string `json:"endpoint"`
	// Context is the docker context the endpoint was read from, when one was named.
	Context string `json:"context,omitempty"`
	// Swarm is set for an instance placed on a Docker Swarm: Endpoint is then its node
	// once placed (the manager before).
	Swarm *Swarm `json:"swarm,omitempty"`
}

// Swarm is where on a Swarm an instance runs.
type Swarm struct {
	Manager string `json:"manager"`        // ssh://… of a manager
	Node    string `json:"node,omitempty"` // the node's hostname; empty until placed
	// Registry (host[:port][/path]) is where the images the tool builds are pushed, and
	// nodes pull them from; empty: they stay on the node that built them.
	Registry string `json:"registry,omitempty"`
}

// Placed reports whether the instance is on a Swarm and has its node.
func (e Engine) Placed() bool { return e.Swarm != nil && e.Swarm.Node != "" }

// Local reports whether this is the machine's own engine.
func (e Engine) Local() bool { return e.Endpoint == "" }

// Name is how the engine is shown: the context's name when it came from one.
func (e Engine) Name() string {
	switch {
	case e.Local():
		return "local"
	case e.Placed():
		return e.Swarm.Node + " (Swarm " + e.Swarm.Manager + ")"
	case e.Swarm != nil:
		return "Swarm " + e.Swarm.Manager + " (not placed yet)"
	case e.Context != "":
		return e.Context
	}
	return e.Endpoint
}

// Key names the engine's state directory: short (unix socket paths are limited to 108
// bytes) and the same for the same endpoint.
func (e Engine) Key() string {
	sum := sha256.Sum256([]byte(e.Endpoint))
	return hex.EncodeToString(sum[:5])
}

// Destination is what ssh connects to: [user@]host and the port ("" for ssh's default).
func (e Engine) Destination() (dest, port string) {
	u, err := url.Parse(e.Endpoint)
	if err != nil {
		return "", ""
	}
	dest = u.Hostname()
	if u.User != nil && u.User.Username() != "" {
		dest = u.User.Username() + "@" + dest
	}
	return dest, u.Port()
}

// ErrEndpoint is wrapped by every refusal of an endpoint.
var ErrEndpoint = errors.New("not an ssh:// engine")

var hostPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
var userPart = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// Parse checks an ssh://[user@]host[:port] endpoint. Nothing else is accepted: tcp://
// engines publish their ports and bind mounts with none of the care this tool takes,
// and a host that starts with '-' would be an ssh option.
func Parse(endpoint string) (Engine, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "ssh" || u.Opaque != "" {
		return Engine{}, fmt.Errorf("%q: %w (give ssh://[user@]host[:port])", endpoint, ErrEndpoint)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return Engine{}, fmt.Errorf("%q: %w (no path or query after the host)", endpoint, ErrEndpoint)
	}
	if h := u.Hostname(); !hostPart.MatchString(h) && net.ParseIP(h) == nil {
		return Engine{}, fmt.Errorf("%q: %w (bad host %q)", endpoint, ErrEndpoint, h)
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword || !userPart.MatchString(u.User.Username()) {
			return Engine{}, fmt.Errorf("%q: %w (bad user; passwords are never given here, use a key)", endpoint, ErrEndpoint)
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Engine{}, fmt.Errorf("%q: %w (bad port %q)", endpoint, ErrEndpoint, p)
		}
	}
	clean := "ssh://" + u.Host
	if u.User != nil {
		clean = "ssh://" + u.User.Username() + "@" + u.Host
	}
	return Engine{Endpoint: clean}, nil
}

// ErrOtherLocalContext is wrapped when a context names this machine's engine (a unix
// socket, as Docker Desktop's desktop-linux does) but is not the one docker now uses.
var ErrOtherLocalContext = errors.New("is this machine's engine but not the current docker context")

// FromContext reads the endpoint of a docker context. An ssh:// one is a remote engine.
// A unix socket is this machine's engine (Docker Desktop's desktop-linux, colima,
// rootless Docker): it is taken as the local engine (the zero Engine) when it is the
// context docker uses now, since every local docker call goes there; otherwise the user
// is told to switch to it. Anything else (tcp://) is refused.
func FromContext(ctx context.Context, name string, env []string) (Engine, error) {
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Args: []string{"context", "inspect", "--format", "{{.Endpoints.docker.Host}}", "--", name},
		Env: env, Timeout: 10 * time.Second})
	if err != nil {
		return Engine{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	endpoint := strings.TrimSpace(out)
	if strings.HasPrefix(endpoint, "unix://") {
		current, err := execx.Output(ctx, execx.Cmd{Name: "docker", Args: []string{"context", "show"}, Env: env, Timeout: 10 * time.Second})
		if err != nil {
			return Engine{}, fmt.Errorf("docker context show: %w", err)
		}
		if strings.TrimSpace(current) != name {
			return Engine{}, fmt.Errorf("docker context %q (%s) %w (%s): run docker context use %s", name, endpoint, ErrOtherLocalContext, strings.TrimSpace(current), name)
		}
		return Engine{}, nil
	}
	e, err := Parse(endpoint)
	if err != nil {
		return Engine{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	e.Context = name
	return e, nil
}
