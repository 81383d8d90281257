package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/ktrdr/sandbox/pkg/config"
)

// Outcome of one check.
type Outcome string

const (
	Passed  Outcome = "passed"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped"
)

// Result of one check.
type Result struct {
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
}

// Report of the whole gate.
type Report struct {
	Results  []Result      `json:"results"`
	Duration time.Duration `json:"duration_ns"`
}

// Passed reports whether no check failed.
func (r Report) Passed() bool {
	for _, res := range r.Results {
		if res.Outcome == Failed {
			return false
		}
	}
	return true
}

// Options for Run.
type Options struct {
	Checks  []config.Check
	Ports   map[string]int // port variable -> host port
	Timeout time.Duration
	// Poll is the pause between attempts of one check; at most 2 s, 50 ms when unset:
	// a user waits for the slowest check, and a poll is one connect on loopback.
	Poll time.Duration
	// Hold is how long a TCP check's connection must stay open to pass (DefaultHold
	// when unset): a proxy in front of the port, Docker's for a published port or an SSH
	// forward to a remote engine, accepts at once and closes the connection when nothing
	// listens behind it yet (within a millisecond here, one round trip over SSH).
	Hold time.Duration
	Host string // "127.0.0.1" when empty
	Out  io.Writer
}

// DefaultPoll is the pause between attempts when Options.Poll is unset.
const DefaultPoll = 50 * time.Millisecond

// DefaultHold is how long a TCP check's connection must stay open when Options.Hold is
// unset: Docker's port proxy closes it within a millisecond when nothing listens.
const DefaultHold = 20 * time.Millisecond

// Run runs the checks under one deadline and writes one line per check, in the table's
// order. Checks that do not depend on each other are polled at the same time (the gate
// then waits for the slowest, not for their sum); a check with After waits for that
// earlier check and is skipped unless it passed.
func Run(ctx context.Context, o Options) Report {
	start := time.Now()
	switch {
	case o.Poll <= 0:
		o.Poll = DefaultPoll
	case o.Poll > 2*time.Second:
		o.Poll = 2 * time.Second
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Hold <= 0 {
		o.Hold = DefaultHold
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	results := make([]Result, len(o.Checks))
	done := make([]chan struct{}, len(o.Checks))
	index := map[string]int{}
	for i, c := range o.Checks {
		done[i] = make(chan struct{})
		if _, dup := index[c.Name]; !dup {
			index[c.Name] = i
		}
	}
	for i, c := range o.Checks {
		go func() {
			defer close(done[i])
			results[i] = runCheck(ctx, o, client, c, i, index, results, done)
		}()
	}
	var rep Report
	for i := range o.Checks {
		<-done[i]
		rep.Results = append(rep.Results, results[i])
		if o.Out != nil {
			fmt.Fprintln(o.Out, Line(results[i]))
		}
	}
	rep.Duration = time.Since(start)
	return rep
}

// runCheck polls check c (the i-th) until it passes or the deadline ends; a check whose
// After names an earlier check waits for it first and is skipped unless it passed.
func runCheck(ctx context.Context, o Options, client *http.Client, c config.Check, i int, index map[string]int, results []Result, done []chan struct{}) Result {
	res := Result{Name: c.Name}
	if c.After != "" {
		j, ok := index[c.After]
		if ok && j < i {
			<-done[j]
		}
		if !ok || j >= i || results[j].Outcome != Passed {
			res.Outcome, res.Detail = Skipped, c.After+" not ready"
			return res
		}
	}
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Ports[c.PortEnv]))
	res.Outcome, res.Detail = poll(ctx, o.Poll, func(actx context.Context) (bool, string) {
		return probe(actx, client, c, addr, o.Hold)
	})
	if res.Outcome == Failed && ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			res.Detail = fmt.Sprintf("timeout after %s: %s", o.Timeout, res.Detail)
		} else { // the caller ended the gate (and says why)
			res.Detail = "stopped: " + res.Detail
		}
	}
	return res
}

// tcpHeld connects to addr and passes when the connection stays open for hold, or the
// service speaks first: a connection closed before that was accepted by a proxy with
// nothing listening behind it.
func tcpHeld(ctx context.Context, addr string, hold time.Duration) (bool, string) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, "connect " + addr + ": " + shortErr(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(hold))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return false, "connection to " + addr + " closed at once (nothing listens behind the port's proxy yet)"
	}
	return true, "connection accepted on " + addr
}

// Line renders a result as the user sees it.
func Line(r Result) string {
	switch r.Outcome {
	case Passed:
		return fmt.Sprintf("  ✓ %s ready (%s)", r.Name, r.Detail)
	case Skipped:
		return fmt.Sprintf("  ○ %s skipped (%s)", r.Name, r.Detail)
	}
	return fmt.Sprintf("  ✗ %s failed: %s", r.Name, r.Detail)
}

func poll(ctx context.Context, every time.Duration, try func(context.Context) (bool, string)) (Outcome, string) {
	last := "not tried before the deadline"
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, detail := try(actx)
		cancel()
		if ok {
			return Passed, detail
		}
		last = detail
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return Failed, last
		case <-t.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, c config.Check, addr string, hold time.Duration) (bool, string) {
	switch c.Kind {
	case config.CheckTCP:
		return tcpHeld(ctx, addr, hold)
	case config.CheckHTTP, config.CheckWorkers:
		url := "http://" + addr + c.Path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, "GET " + url + ": " + shortErr(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if c.Kind == config.CheckHTTP {
			accept := c.Accept
			if len(accept) == 0 {
				accept = []int{http.StatusOK}
			}
			if !slices.Contains(accept, resp.StatusCode) {
				return false, fmt.Sprintf("GET %s → %d", url, resp.StatusCode)
			}
			return true, fmt.Sprintf("GET %s → %d", c.Path, resp.StatusCode)
		}
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Sprintf("GET %s → %d", url, resp.StatusCode)
		}
		n, err := CountWorkers(body)
		if err != nil {
			return false, fmt.Sprintf("GET %s: %v", url, err)
		}
		if n < c.MinWorkers {
			return false, fmt.Sprintf("expected %d workers, found %d", c.MinWorkers, n)
		}
		return true, fmt.Sprintf("%d workers registered", n)
	}
	return false, fmt.Sprintf("unknown check kind %q", c.Kind)
}

// CountWorkers reads a worker list as `[...]` or `{"workers": [...]}`.
func CountWorkers(body []byte) (int, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err == nil {
		return len(list), nil
	}
	var obj struct {
		Workers []json.RawMessage `json:"workers"`
	}
	if err := json.Unmarshal(body, &obj); err != nil {
		return 0, fmt.Errorf("not a worker list: %v", err)
	}
	return len(obj.Workers), nil
}

func shortErr(err error) string {
	if oe, ok := err.(*net.OpError); ok && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
