package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/registry"
)

// Options are what a server needs from its caller.
type Options struct {
	// Env builds the environment of one call whose operations act on the instance at dir
	// (core.Env.Cwd). The server replaces its streams, progress and questions: nothing a
	// call does may reach the process's stdout, which carries the protocol.
	Env func(dir string) (*core.Env, error)
	// Dir is where the server was started: the sandbox a tool acts on when it names none,
	// and the repository whose sandboxes the tools may name.
	Dir string
	// Spell spells a command a hint names, as the user runs it (targets.Invocation.Spell).
	Spell func(fail.Command) string
	// AllowLocalProd lets the tools change local-prod; without it local-prod is read-only.
	AllowLocalProd bool
	// Version is reported to clients in the initialize handshake.
	Version string
	// Log hears one line per call (tool, instance, outcome, time); never arguments,
	// output or environment, so no secret can reach it. nil: discarded.
	Log io.Writer
}

// LocalProdName is how a tool names local-prod in its instance argument.
const LocalProdName = "local-prod"

// Server is one MCP server over the sandbox operations.
type Server struct {
	o    Options
	cfg  config.Config
	repo string // the main repository the server is scoped to
	mcp  *mcp.Server

	mu    sync.Mutex
	busy  map[string]string // instance id -> the tool changing it now
	res   map[string]bool   // resource URIs served now
	usage usageCache
}

// New checks o and builds the server with its tools and resources.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Env == nil || o.Spell == nil || o.Dir == "" {
		return nil, errors.New("mcpserver.New: Env, Spell and Dir are required")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	e, err := o.Env(o.Dir)
	if err != nil {
		return nil, err
	}
	_, repo, err := e.Git.Locate(ctx, o.Dir)
	if err != nil {
		return nil, fail.With(fail.CodeError, fail.Say("Start the server inside a clone of the repository or one of its sandboxes"), fmt.Errorf("%s is not in a git repository: %w", o.Dir, err))
	}
	s := &Server{o: o, cfg: e.Config, repo: repo, busy: map[string]string{}, res: map[string]bool{}}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: e.Config.Project + "-sandbox", Version: version}, &mcp.ServerOptions{
		// Resources are announced even while no instance exists, so that a client opens
		// its subscription at connect and hears of the first sandbox created.
		Capabilities: &mcp.ServerCapabilities{Resources: &mcp.ResourceCapabilities{ListChanged: true}},
		Instructions: "Sandboxes of the repository at " + repo + ": isolated Docker Compose stacks, one per git worktree. " +
			"Tools name an instance by its name or id; without one they act on the sandbox the server started in. " +
			"A refused call says why and what to run instead (Hint).",
	})
	s.addTools()
	s.refreshResources()
	// Measured once now, so that the first status an agent asks for answers at once.
	s.usage.refreshing = true
	go s.usage.refresh(e.Docker, e.Config.ComposeProjectLabel)
	return s, nil
}

// MCP is the protocol server, for a caller that connects its own transport.
func (s *Server) MCP() *mcp.Server { return s.mcp }

// Run serves one client over t (mcp.StdioTransport for the mcp target) until it goes away or
// ctx ends.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	err := s.mcp.Run(ctx, t)
	if ctx.Err() != nil || errors.Is(err, io.EOF) {
		return nil // the client closed the session, or Ctrl-C: both are a normal end
	}
	return err
}

// target is the instance a call acts on.
type target struct {
	kind config.Kind
	id   string // "" when the call acts on the start directory and it is not known yet
	dir  string // the directory the call's Env is built at
}

// resolve is the instance a tool names: local-prod, a registered sandbox of this
// repository by name or id, or (when none is named) the sandbox the server started in.
func (s *Server) resolve(name string) (target, error) {
	if name == "" {
		return target{kind: config.KindSandbox, dir: s.o.Dir}, nil
	}
	if name == LocalProdName || name == s.cfg.LocalProd.InstanceID {
		return target{kind: config.KindLocalProd, id: s.cfg.LocalProd.InstanceID, dir: s.o.Dir}, nil
	}
	e, err := s.o.Env(s.o.Dir)
	if err != nil {
		return target{}, err
	}
	reg, err := e.RegistryStore().Load()
	if err != nil {
		return target{}, err
	}
	id, idErr := e.InstanceID(name)
	for _, in := range reg.Sorted() {
		if in.InstanceID != name && (idErr != nil || in.InstanceID != id) {
			continue
		}
		if !s.inScope(in) {
			return target{}, fail.New(fail.CodeError, fail.Say("Start a server in that repository to work on it"),
				"%s belongs to another repository than %s", in.InstanceID, s.repo)
		}
		return target{kind: config.KindSandbox, id: in.InstanceID, dir: in.Path}, nil
	}
	return target{}, fail.New(fail.CodeError, fail.Run("Call the list tool to see the sandboxes, or create one: %s", fail.Do(fail.Sandbox, "create", "<name>")),
		"no sandbox named %q is registered", name)
}

// inScope tells whether a registered sandbox is a worktree of the server's repository
// (or the repository itself, adopted with init).
func (s *Server) inScope(in *registry.Instance) bool {
	if registry.SamePath(in.Path, s.repo) {
		return true
	}
	return in.ParentRepo != nil && registry.SamePath(*in.ParentRepo, s.repo)
}

// claim marks id as being changed by tool, or refuses when another call of this server
// is changing it: two calls racing on one stack would leave neither's result true.
// Calls through other servers meet the core's own locks.
func (s *Server) claim(id, tool string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.busy[id]; ok {
		return nil, fail.New(fail.CodeError, fail.Say("Wait for that call to finish (or cancel it), then call again"),
			"%s is busy: a %s call is working on it", id, other)
	}
	s.busy[id] = tool
	return func() {
		s.mu.Lock()
		delete(s.busy, id)
		s.mu.Unlock()
	}, nil
}

// cachedUsageTools report usage figures from the server's cache (see usageCache).
var cachedUsageTools = map[string]bool{"status": true, "list": true}

// readOnly are the tools that may act on local-prod without AllowLocalProd.
var readOnly = map[string]bool{"status": true, "logs": true, "snapshots": true}

// checkLocalProd refuses a change to local-prod unless the server allows it.
func (s *Server) checkLocalProd(t target, tool string) error {
	if t.kind != config.KindLocalProd || readOnly[tool] || s.o.AllowLocalProd {
		return nil
	}
	return fail.New(fail.CodeError, fail.Run("Local-prod is read-only here (status, logs, snapshots): a person makes the change, or restarts this server as %s", fail.Do(fail.Sandbox, "mcp", "-allowLocalProd")),
		"%s on local-prod refused: this server may not change local-prod", tool)
}

// call is what every tool handler shares: it resolves the instance, refuses what the
// server forbids, builds the call's Env with its progress, runs op, logs one line, and
// shapes the reply: the typed value as structured content with one line of text, or a
// tool error with the Error and Hint lines (and the value, when op returned one too,
// e.g. a failed gate's report).
func (s *Server) call(ctx context.Context, req *mcp.CallToolRequest, tool, instance string, changes bool,
	op func(ctx context.Context, e *core.Env, t target) (any, string, error)) (*mcp.CallToolResult, any, error) {
	started := time.Now()
	out, line, err := s.run(ctx, req, tool, instance, changes, op)
	outcome := "ok"
	if err != nil {
		outcome = "refused"
		if ctx.Err() != nil {
			outcome = "cancelled"
		}
	}
	fmt.Fprintf(s.o.Log, "%s tool=%s instance=%q %s %dms\n", started.Format(time.RFC3339), tool, instance, outcome, time.Since(started).Milliseconds())
	res := &mcp.CallToolResult{}
	if err != nil {
		res.IsError = true
		res.Content = []mcp.Content{&mcp.TextContent{Text: "Error: " + fail.Message(err, s.o.Spell)}}
	} else {
		res.Content = []mcp.Content{&mcp.TextContent{Text: line}}
	}
	if out != nil {
		res.StructuredContent = out
	}
	return res, nil, nil
}

func (s *Server) run(ctx context.Context, req *mcp.CallToolRequest, tool, instance string, changes bool,
	op func(ctx context.Context, e *core.Env, t target) (any, string, error)) (_ any, _ string, err error) {
	// A bug in one call must not end every agent's session: the SDK does not recover.
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(s.o.Log, "panic in %s: %v\n%s", tool, p, debug.Stack())
			err = fmt.Errorf("internal error in %s (a bug; please report it): %v", tool, p)
		}
	}()
	t, err := s.resolve(instance)
	if err != nil {
		return nil, "", err
	}
	if err := s.checkLocalProd(t, tool); err != nil {
		return nil, "", err
	}
	if changes {
		key := t.id
		if in, err := core.Load(s.cfg, t.kind, t.dir); key == "" && err == nil {
			key = in.ID // the same key whether the call named it or not
		}
		if key == "" {
			key = t.dir
		}
		release, err := s.claim(key, tool)
		if err != nil {
			return nil, "", err
		}
		defer release()
		// Instances come and go with create and destroy, here or through another server.
		defer s.refreshResources()
	}
	e, err := s.envAt(ctx, req, t.dir)
	if err != nil {
		return nil, "", err
	}
	if cachedUsageTools[tool] {
		e.Docker = cachedUsage{Docker: e.Docker, cache: &s.usage}
	}
	out, line, err := op(ctx, e, t)
	if n, ok := e.Progress.(*notifier); ok && len(n.warnings) > 0 && err == nil {
		line += " (warnings: " + strings.Join(n.warnings, "; ") + ")"
	}
	return out, line, err
}

// envAt is the Env of one call at dir: no input, no terminal, no questions (the tools'
// arguments are the answers), children's output discarded unless the tool captures it,
// and progress as notifications.
func (s *Server) envAt(ctx context.Context, req *mcp.CallToolRequest, dir string) (*core.Env, error) {
	e, err := s.o.Env(dir)
	if err != nil {
		return nil, err
	}
	e.In = strings.NewReader("")
	e.Out, e.Err = io.Discard, io.Discard
	e.Terminal = false
	e.Progress = newNotifier(ctx, req)
	e.Ask = func(question string) (bool, error) {
		return false, fail.New(fail.CodeError, fail.Say("Give the tool's confirming argument instead"), "%s: an MCP call cannot be asked", question)
	}
	return e, nil
}
