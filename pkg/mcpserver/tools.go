package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/gate"
	"github.com/ktrdr/sandbox/pkg/shared"
	"github.com/ktrdr/sandbox/pkg/snapshot"
)

// Bounds of what one call may return or take: an agent's context is small, and a stuck
// command must not hold a call forever.
const (
	DefaultLogLines    = 100
	MaxLogLines        = 2000
	DefaultOutputCap   = 64 << 10
	MaxOutputCap       = 1 << 20
	DefaultExecTimeout = 2 * time.Minute
	MaxExecTimeout     = 30 * time.Minute
)

type (
	// ListInput takes nothing: every registered instance is listed.
	ListInput struct{}
	// StatusInput names the instance.
	StatusInput struct {
		Instance string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
	}
	// CreateInput are create's options.
	CreateInput struct {
		Name      string `json:"name" jsonschema:"the new sandbox's name (letters, digits, dashes), e.g. feat-x"`
		Branch    string `json:"branch,omitempty" jsonschema:"the branch to check out, made when it does not exist; default: the name"`
		Slot      *int   `json:"slot,omitempty" jsonschema:"a free port slot; default: the lowest free one"`
		NoInclude bool   `json:"noInclude,omitempty" jsonschema:"do not copy the ignored files .worktreeinclude names"`
		NoHooks   bool   `json:"noHooks,omitempty" jsonschema:"do not run the post-create hooks"`
		Seed      string `json:"seed,omitempty" jsonschema:"INSTANCE or INSTANCE:SNAPSHOT whose data the volumes start with"`
	}
	// UpInput are up's options.
	UpInput struct {
		Instance  string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		NoWait    bool   `json:"noWait,omitempty" jsonschema:"return once the containers are started, without waiting for the startability gate"`
		Build     bool   `json:"build,omitempty" jsonschema:"rebuild the images first"`
		Timeout   string `json:"timeout,omitempty" jsonschema:"how long the gate may take, e.g. 2m"`
		NoSecrets bool   `json:"noSecrets,omitempty" jsonschema:"start without fetching secrets"`
		NoHooks   bool   `json:"noHooks,omitempty" jsonschema:"do not run the pre-up and post-up hooks"`
	}
	// DownInput are down's options.
	DownInput struct {
		Instance string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		Volumes  bool   `json:"volumes,omitempty" jsonschema:"also remove the volumes (their data is lost)"`
	}
	// LogsInput bounds the logs returned.
	LogsInput struct {
		Instance string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		Service  string `json:"service,omitempty" jsonschema:"one compose service; default: all"`
		Tail     int    `json:"tail,omitempty" jsonschema:"lines per service, at most 2000; default 100"`
		MaxBytes int    `json:"maxBytes,omitempty" jsonschema:"at most this many bytes are returned (the end); default 65536, at most 1048576"`
	}
	// ExecInput is a command to run in a service.
	ExecInput struct {
		Instance       string   `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		Service        string   `json:"service,omitempty" jsonschema:"the compose service; default: the configuration's default service"`
		Command        []string `json:"command" jsonschema:"the program and its arguments, run without a shell"`
		TimeoutSeconds int      `json:"timeoutSeconds,omitempty" jsonschema:"stop waiting after this many seconds; default 120, at most 1800"`
		MaxOutputBytes int      `json:"maxOutputBytes,omitempty" jsonschema:"at most this many bytes of stdout and of stderr are returned (the end); default 65536"`
	}
	// SnapshotInput names the snapshot to take.
	SnapshotInput struct {
		Instance string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		Name     string `json:"name,omitempty" jsonschema:"the snapshot's name; default: the time"`
	}
	// SnapshotsInput chooses whose snapshots are listed.
	SnapshotsInput struct {
		Instance string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		All      bool   `json:"all,omitempty" jsonschema:"every instance's snapshots, destroyed ones' included"`
	}
	// RestoreInput names the snapshot to restore.
	RestoreInput struct {
		Instance  string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		Name      string `json:"name" jsonschema:"the snapshot to restore"`
		From      string `json:"from,omitempty" jsonschema:"the id of the instance the snapshot was taken of; default: this one"`
		NoWait    bool   `json:"noWait,omitempty" jsonschema:"do not wait for the startability gate"`
		Timeout   string `json:"timeout,omitempty" jsonschema:"how long the gate may take, e.g. 2m"`
		NoSecrets bool   `json:"noSecrets,omitempty" jsonschema:"start without fetching secrets"`
	}
	// InitSharedInput says where the shared data comes from.
	InitSharedInput struct {
		From    string `json:"from,omitempty" jsonschema:"a checkout (or directory) whose data/, models/ ... subdirectories are copied in; without it the directory is only shown (or made when missing)"`
		Minimal bool   `json:"minimal,omitempty" jsonschema:"only make the missing subdirectories, keeping what is there"`
		Engine  string `json:"engine,omitempty" jsonschema:"ssh://[user@]host: fill the shared directory on that remote engine's host instead of this machine's (with from)"`
	}
	// DoctorInput takes nothing.
	DoctorInput struct{}
	// DestroyInput asks twice for what cannot be undone.
	DestroyInput struct {
		Instance       string `json:"instance,omitempty" jsonschema:"the sandbox's name or id, or local-prod; default: the sandbox the server was started in"`
		Confirm        string `json:"confirm" jsonschema:"the instance's name or id, repeated: destroy refuses anything else"`
		DiscardChanges bool   `json:"discardChanges,omitempty" jsonschema:"remove the worktree even though it holds uncommitted work (lost for good)"`
		KeepWorktree   bool   `json:"keepWorktree,omitempty" jsonschema:"keep the worktree directory"`
		Snapshot       bool   `json:"snapshot,omitempty" jsonschema:"keep a snapshot of the volumes first"`
	}
)

// Results of the tools that have no -json target of their own. List, status, snapshots
// and doctor return exactly what their targets print with -json.
type (
	// Created is what create made.
	Created struct {
		InstanceID    string          `json:"instance_id"`
		Name          string          `json:"name"`
		Slot          int             `json:"slot"`
		Path          string          `json:"path"`
		URLs          []core.Endpoint `json:"urls"`
		IncludedFiles int             `json:"included_files"`
	}
	// Started is what up and restore started: the gate's report when they waited.
	Started struct {
		InstanceID     string          `json:"instance_id"`
		Kind           config.Kind     `json:"kind"`
		Waited         bool            `json:"waited"`
		GatePassed     bool            `json:"gate_passed"`
		Gate           *gate.Report    `json:"gate,omitempty"`
		ElapsedSeconds float64         `json:"elapsed_seconds"`
		URLs           []core.Endpoint `json:"urls"`
		Platform       string          `json:"platform,omitempty"`
	}
	// Stopped is what down did.
	Stopped struct {
		InstanceID     string `json:"instance_id"`
		VolumesRemoved bool   `json:"volumes_removed"`
		Snapshot       string `json:"snapshot,omitempty"`
	}
	// Logs are the end of the instance's logs.
	Logs struct {
		InstanceID string `json:"instance_id"`
		Logs       string `json:"logs"`
		Truncated  bool   `json:"truncated"`
	}
	// Executed is how a command ended and the end of what it printed.
	Executed struct {
		InstanceID string `json:"instance_id"`
		core.ExecResult
		Stdout    string `json:"stdout"`
		Stderr    string `json:"stderr"`
		Truncated bool   `json:"truncated"`
		TimedOut  bool   `json:"timed_out"`
	}
	// Snapshot is a snapshot taken, with where it is stored.
	Snapshot struct {
		snapshot.Manifest
		Path string `json:"path"`
	}
	// Restored is the snapshot restored and the start after it.
	Restored struct {
		Snapshot Snapshot `json:"snapshot"`
		Start    Started  `json:"start"`
	}
	// SharedData is what initShared did and what the shared directory now holds.
	SharedData struct {
		Outcome core.SharedOutcome `json:"outcome"`
		Root    string             `json:"root"`
		shared.Report
		// Restart names the running instances that still mount a replaced directory
		// (down and up each to see the new data).
		Restart        []string `json:"restart,omitempty"`
		RestartUnknown string   `json:"restart_unknown,omitempty"`
	}
	// Destroyed is what destroy removed.
	Destroyed struct {
		InstanceID      string      `json:"instance_id"`
		Kind            config.Kind `json:"kind"`
		Path            string      `json:"path"`
		WorktreeRemoved bool        `json:"worktree_removed"`
		Snapshot        string      `json:"snapshot,omitempty"`
		DockerSkipped   string      `json:"docker_skipped,omitempty"`
	}
)

func started(r core.StartResult) *Started {
	if r.Instance == nil {
		return nil
	}
	out := &Started{InstanceID: r.Instance.ID, Kind: r.Kind, Waited: r.Waited, GatePassed: r.Waited && r.Gate.Passed(),
		ElapsedSeconds: r.Elapsed.Seconds(), URLs: r.URLs, Platform: r.Platform}
	if r.Waited {
		g := r.Gate
		out.Gate = &g
	}
	return out
}

func (r *Started) line() string {
	if !r.Waited {
		return fmt.Sprintf("%s starting (gate not awaited; call status to check)", r.InstanceID)
	}
	urls := make([]string, 0, len(r.URLs))
	for _, u := range r.URLs {
		urls = append(urls, u.Label+" "+u.URL)
	}
	return fmt.Sprintf("%s ready in %.1fs, gate passed: %s", r.InstanceID, r.ElapsedSeconds, strings.Join(urls, ", "))
}

func snapshotOf(m snapshot.Manifest) Snapshot { return Snapshot{Manifest: m, Path: m.Dir} }

// duration parses a tool's timeout argument as the targets' -timeout flag reads one.
func duration(arg, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fail.New(fail.CodeUsage, fail.Say("Give a duration such as 2m or 90s"), "%s %q is not a duration", arg, v)
	}
	return d, nil
}

// capped is n within (0, max], or def when n is not positive.
func capped(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// addTools registers every tool; each handler is a method below.
func (s *Server) addTools() {
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "list", Description: "Every instance with its slot, state, API port, usage and path (the JSON of " + s.o.Spell(fail.Do(fail.Sandbox, "list", "-json")) + ")."}, s.listTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "status", Description: "One instance's state, containers, URLs and shared data (the JSON of " + s.o.Spell(fail.Do(fail.Sandbox, "status", "-json")) + ")."}, s.statusTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "create", Description: "Create a sandbox: a git worktree beside the repository on its own port slot, registered, not started (call up next). Sends progress."}, s.createTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "up", Description: "Start an instance and wait for its startability gate; the result has the gate's checks and the URLs. Sends progress; cancelling stops it as Ctrl-C does."}, s.upTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "down", Description: "Stop an instance; its volumes are kept unless volumes is true."}, s.downTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "logs", Description: "The end of an instance's compose logs, bounded in lines and bytes (no follow)."}, s.logsTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "exec", Description: "Run a command (no shell) in a running service of an instance, e.g. the tests in the backend; returns its exit code and the end of its output. A non-zero exit is a result, not an error."}, s.execTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "snapshot", Description: "Copy an instance's volumes into a named snapshot (writers paused meanwhile). Sends progress."}, s.snapshotTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "snapshots", Description: "An instance's snapshots, or every instance's with all (the JSON of " + s.o.Spell(fail.Do(fail.Sandbox, "snapshots", "-json")) + ")."}, s.snapshotsTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "restore", Description: "Give an instance the data of a snapshot, then start it and run the gate. Sends progress."}, s.restoreTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "initShared", Description: "Fill the machine's shared data directory from a checkout (from), make its empty structure (minimal), or show it; on a remote engine's host with engine. A re-run over unchanged data copies nothing. Sends progress."}, s.initSharedTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "doctor", Description: "Check Docker, git, op, disk, ports and the registry; each problem comes with the command that fixes it (the JSON of " + s.o.Spell(fail.Do(fail.Sandbox, "doctor", "-json")) + ")."}, s.doctorTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "destroy", Description: "Remove an instance: containers, volumes, worktree (never its branch) and registry entry. Needs confirm equal to its name; refuses uncommitted work unless discardChanges is true too."}, s.destroyTool)
}

func (s *Server) listTool(ctx context.Context, req *mcp.CallToolRequest, _ ListInput) (*mcp.CallToolResult, any, error) {
	return s.callAt(ctx, req, "list", func(ctx context.Context, e *core.Env) (any, string, error) {
		l, err := e.List(ctx)
		return l, fmt.Sprintf("%d instance(s)", len(l.Instances)), err
	})
}

func (s *Server) statusTool(ctx context.Context, req *mcp.CallToolRequest, in StatusInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "status", in.Instance, false, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		rep, err := e.Status(ctx, t.kind)
		if err != nil {
			return nil, "", err
		}
		return rep, fmt.Sprintf("%s: %s, %d/%d containers running", rep.InstanceID, rep.State, rep.Running, rep.Total), nil
	})
}

func (s *Server) createTool(ctx context.Context, req *mcp.CallToolRequest, in CreateInput) (*mcp.CallToolResult, any, error) {
	return s.callAt(ctx, req, "create", func(ctx context.Context, e *core.Env) (any, string, error) {
		defer s.refreshResources()
		r, err := e.Create(ctx, in.Name, core.CreateOptions{Branch: in.Branch, Slot: in.Slot, NoInclude: in.NoInclude, NoHooks: in.NoHooks, Seed: in.Seed})
		if err != nil {
			return nil, "", err
		}
		out := Created{InstanceID: r.Instance.ID, Name: strings.TrimPrefix(r.Instance.ID, e.Config.IDPrefix), Slot: r.Instance.Slot, Path: r.Instance.Dir, URLs: r.Headline}
		if r.Included != nil {
			out.IncludedFiles = r.Included.Files
		}
		return out, fmt.Sprintf("Created sandbox %s on slot %d at %s", out.InstanceID, out.Slot, out.Path), nil
	})
}

func (s *Server) upTool(ctx context.Context, req *mcp.CallToolRequest, in UpInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "up", in.Instance, true, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		timeout, err := duration("timeout", in.Timeout)
		if err != nil {
			return nil, "", err
		}
		r, err := e.Up(ctx, t.kind, core.StartOptions{NoWait: in.NoWait, Build: in.Build, Timeout: timeout, NoSecrets: in.NoSecrets, NoHooks: in.NoHooks})
		out := started(r)
		if out == nil {
			return nil, "", err
		}
		return out, out.line(), err
	})
}

func (s *Server) downTool(ctx context.Context, req *mcp.CallToolRequest, in DownInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "down", in.Instance, true, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		r, err := e.Down(ctx, t.kind, core.DownOptions{Volumes: in.Volumes})
		if err != nil {
			return nil, "", err
		}
		out := Stopped{InstanceID: r.Instance.ID, VolumesRemoved: r.VolumesRemoved, Snapshot: r.Snapshot}
		if out.VolumesRemoved {
			return out, out.InstanceID + " stopped; volumes removed", nil
		}
		return out, out.InstanceID + " stopped (volumes kept)", nil
	})
}

func (s *Server) logsTool(ctx context.Context, req *mcp.CallToolRequest, in LogsInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "logs", in.Instance, false, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		buf := newTailBuffer(capped(in.MaxBytes, DefaultOutputCap, MaxOutputCap))
		e.Out, e.Err = buf, buf
		if err := e.Logs(ctx, t.kind, core.LogOptions{Service: in.Service, Tail: capped(in.Tail, DefaultLogLines, MaxLogLines)}); err != nil {
			return nil, "", err
		}
		in, err := e.Current(t.kind)
		if err != nil {
			return nil, "", err
		}
		text, cut := buf.text()
		return Logs{InstanceID: in.ID, Logs: text, Truncated: cut}, fmt.Sprintf("%d bytes of %s's logs", len(text), in.ID), nil
	})
}

func (s *Server) execTool(ctx context.Context, req *mcp.CallToolRequest, in ExecInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "exec", in.Instance, false, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		return s.exec(ctx, e, t, in)
	})
}

func (s *Server) snapshotTool(ctx context.Context, req *mcp.CallToolRequest, in SnapshotInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "snapshot", in.Instance, true, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		m, err := e.Snapshots().Take(ctx, t.kind, in.Name)
		if err != nil {
			return nil, "", err
		}
		return snapshotOf(m), fmt.Sprintf("Snapshot %s of %s: %d volume(s)", m.Name, m.Instance, len(m.Volumes)), nil
	})
}

func (s *Server) initSharedTool(ctx context.Context, req *mcp.CallToolRequest, in InitSharedInput) (*mcp.CallToolResult, any, error) {
	return s.callAt(ctx, req, "initShared", func(ctx context.Context, e *core.Env) (any, string, error) {
		if in.From != "" && in.Minimal {
			return nil, "", fail.New(fail.CodeUsage, fail.Say("Use one of them"), "from and minimal cannot be used together")
		}
		var r core.SharedResult
		var err error
		if in.Engine != "" {
			if in.Minimal {
				return nil, "", fail.New(fail.CodeUsage, fail.Say("Copy data there with from, or from this machine without engine"), "minimal cannot be used with engine")
			}
			eng, perr := e.ParseEngine(ctx, in.Engine, "")
			if perr != nil {
				return nil, "", perr
			}
			r, err = e.InitSharedOn(ctx, eng, in.From)
		} else {
			r, err = e.InitShared(ctx, in.From, in.Minimal)
		}
		if err != nil {
			return nil, "", err
		}
		out := SharedData{Outcome: r.Outcome, Root: r.Root, Report: r.Summary, Restart: r.Restart, RestartUnknown: r.RestartUnknown}
		line := fmt.Sprintf("Shared data at %s: %s", r.Root, r.Outcome)
		if len(r.Restart) > 0 {
			line += "; down and up to see the new data: " + strings.Join(r.Restart, ", ")
		}
		return out, line, nil
	})
}

func (s *Server) snapshotsTool(ctx context.Context, req *mcp.CallToolRequest, in SnapshotsInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "snapshots", in.Instance, false, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		l, err := e.Snapshots().List(t.kind, in.All)
		return l, fmt.Sprintf("%d snapshot(s)", len(l.Snapshots)), err
	})
}

func (s *Server) restoreTool(ctx context.Context, req *mcp.CallToolRequest, in RestoreInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "restore", in.Instance, true, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		if in.Name == "" {
			return nil, "", fail.New(fail.CodeUsage, fail.Say("Name the snapshot (the snapshots tool lists them)"), "name is required")
		}
		timeout, err := duration("timeout", in.Timeout)
		if err != nil {
			return nil, "", err
		}
		r, err := e.Snapshots().Restore(ctx, t.kind, in.Name, in.From, core.StartOptions{NoSecrets: in.NoSecrets, Timeout: timeout, NoWait: in.NoWait})
		st := started(r.Start)
		if st == nil {
			return nil, "", err
		}
		return Restored{Snapshot: snapshotOf(r.Snapshot), Start: *st}, "Restored " + in.Name + "; " + st.line(), err
	})
}

func (s *Server) doctorTool(ctx context.Context, req *mcp.CallToolRequest, _ DoctorInput) (*mcp.CallToolResult, any, error) {
	return s.callAt(ctx, req, "doctor", func(ctx context.Context, e *core.Env) (any, string, error) {
		rep := e.Doctor(ctx).JSON(s.o.Spell)
		return rep, fmt.Sprintf("%d check(s), %d problem(s)", len(rep.Findings), rep.Problems), nil
	})
}

func (s *Server) destroyTool(ctx context.Context, req *mcp.CallToolRequest, in DestroyInput) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, "destroy", in.Instance, true, func(ctx context.Context, e *core.Env, t target) (any, string, error) {
		return s.destroy(ctx, e, t, in)
	})
}

// callAt is call for the tools that act on no one instance (list, create, doctor).
func (s *Server) callAt(ctx context.Context, req *mcp.CallToolRequest, tool string, op func(context.Context, *core.Env) (any, string, error)) (*mcp.CallToolResult, any, error) {
	return s.call(ctx, req, tool, "", false, func(ctx context.Context, e *core.Env, _ target) (any, string, error) { return op(ctx, e) })
}

func (s *Server) exec(ctx context.Context, e *core.Env, t target, in ExecInput) (any, string, error) {
	limit := time.Duration(capped(in.TimeoutSeconds, int(DefaultExecTimeout/time.Second), int(MaxExecTimeout/time.Second))) * time.Second
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	outCap := capped(in.MaxOutputBytes, DefaultOutputCap, MaxOutputCap)
	stdout, stderr := newTailBuffer(outCap), newTailBuffer(outCap)
	inst, err := e.Current(t.kind)
	if err != nil {
		return nil, "", err
	}
	r, err := e.Exec(cctx, t.kind, core.ExecOptions{Service: in.Service, Command: in.Command, Out: stdout, Err: stderr})
	out := Executed{InstanceID: inst.ID, ExecResult: r}
	var cut1, cut2 bool
	out.Stdout, cut1 = stdout.text()
	out.Stderr, cut2 = stderr.text()
	out.Truncated = cut1 || cut2
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		out.TimedOut = true
		return out, "", fail.New(fail.CodeError, fail.Say("Give it longer with timeoutSeconds, or run less at once"),
			"%s in %s did not finish within %s (the command may still be running in the container)", strings.Join(in.Command, " "), r.Service, limit)
	}
	if err != nil {
		return nil, "", err
	}
	return out, fmt.Sprintf("%s in %s exited %d", strings.Join(in.Command, " "), r.Service, r.ExitCode), nil
}

func (s *Server) destroy(ctx context.Context, e *core.Env, t target, in DestroyInput) (any, string, error) {
	inst, err := e.Current(t.kind)
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimPrefix(inst.ID, s.cfg.IDPrefix)
	if t.kind == config.KindLocalProd {
		name = LocalProdName
	}
	if in.Confirm != name && in.Confirm != inst.ID {
		return nil, "", fail.New(fail.CodeError, fail.Say(fmt.Sprintf("Nothing was deleted. To destroy it, call destroy again with confirm set to %q", name)),
			"confirm %q does not name %s", in.Confirm, inst.ID)
	}
	// The confirm argument is the question the target asks on a terminal.
	r, err := e.Destroy(ctx, t.kind, core.DestroyOptions{Force: true, DiscardChanges: in.DiscardChanges, KeepWorktree: in.KeepWorktree, Snapshot: in.Snapshot})
	if err != nil {
		return nil, "", err
	}
	out := Destroyed{InstanceID: r.ID, Kind: r.Kind, Path: r.Path, WorktreeRemoved: r.WorktreeRemoved, Snapshot: r.Snapshot, DockerSkipped: r.DockerSkipped}
	return out, out.InstanceID + " destroyed", nil
}
