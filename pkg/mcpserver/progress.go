package mcpserver

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ktrdr/sandbox/pkg/shared"
)

// meterInterval is how often a long copy reports its bytes.
var meterInterval = 2 * time.Second

// notifier is the core's Progress for one tool call: each step, warning and meter line
// becomes a progress notification when the client asked for them (a progress token), and
// is dropped otherwise. Nothing goes to stdout, which carries the protocol.
type notifier struct {
	ctx     context.Context
	session *mcp.ServerSession
	token   any
	mu      sync.Mutex
	n       float64
	// warnings are kept for the result's text: an agent without progress still hears them.
	warnings []string
}

func newNotifier(ctx context.Context, req *mcp.CallToolRequest) *notifier {
	n := &notifier{ctx: ctx}
	if req != nil && req.Params != nil {
		n.token = req.Params.GetProgressToken()
		n.session = req.Session
	}
	return n
}

func (n *notifier) send(msg string) {
	n.mu.Lock()
	n.n++
	count := n.n
	n.mu.Unlock()
	if n.token == nil || n.session == nil {
		return
	}
	// A lost notification must not fail the operation it reports on.
	_ = n.session.NotifyProgress(n.ctx, &mcp.ProgressNotificationParams{ProgressToken: n.token, Progress: count, Message: msg})
}

func (n *notifier) Step(msg string) { n.send(msg) }

func (n *notifier) Warn(msg string) {
	n.mu.Lock()
	n.warnings = append(n.warnings, msg)
	n.mu.Unlock()
	n.send("Warning: " + msg)
}

func (n *notifier) Meter(label string) shared.Progress {
	return shared.NewProgress(&lineSender{n: n}, label, false, meterInterval)
}

// lineSender turns the plain progress lines of a meter into notifications.
type lineSender struct {
	n    *notifier
	mu   sync.Mutex
	rest []byte
}

func (w *lineSender) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rest = append(w.rest, p...)
	for {
		i := bytes.IndexByte(w.rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		if line := strings.TrimSpace(string(w.rest[:i])); line != "" {
			w.n.send(line)
		}
		w.rest = w.rest[i+1:]
	}
}
