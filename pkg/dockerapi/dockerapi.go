// Package dockerapi speaks the few calls of the Docker Engine API that a snapshot makes,
// the two that up makes before compose starts, and the questions up asks a Swarm
// manager, straight to the engine's unix socket. Each docker command costs a process
// start and a read of its configuration (about 20 ms on a two-core machine, 40 ms while
// an SSH handshake shares it) before it asks the engine anything, and a snapshot of a
// small volume, or up on a Swarm before its first service is deployed, is mostly such
// calls. Everything else, and every engine that is not reached through a unix socket,
// goes through the docker command line, as the rest of the tool does.
//
// Requests carry no API version: the engine answers them in its own, and these calls have
// not changed since Docker 20.10.
package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ktrdr/sandbox/pkg/execx"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Client talks to one engine's socket.
type Client struct {
	socket string
	http   *http.Client
}

// queryBound bounds a call that only asks or changes a state; Archive is bounded by its
// context alone.
const queryBound = 30 * time.Second

// ForEnv is a client for the engine that the docker command, run with env, reaches, when
// that can be told without running it and is a unix socket: DOCKER_HOST=unix://…, or no
// DOCKER_HOST and the default context (DOCKER_CONTEXT and the configuration's current
// context unset or "default"). False otherwise (ssh://, tcp://, another context), and
// when there is no docker command: the socket only shortens what the command would do,
// and the caller's command-line path says what is missing.
func ForEnv(env []string) (*Client, bool) {
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, false
	}
	host, hostSet := execx.LookupEnv(env, "DOCKER_HOST")
	var socket string
	switch {
	case hostSet && host != "":
		path, ok := strings.CutPrefix(host, "unix://")
		if !ok {
			return nil, false
		}
		socket = path
	case !defaultContext(env):
		return nil, false
	default:
		socket = "/var/run/docker.sock"
	}
	if fi, err := os.Stat(socket); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, false
	}
	return New(socket), true
}

// New is a client for the socket at path.
func New(path string) *Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	// DisableCompression: Go's transport would ask for gzip, and the engine then
	// compresses an archive on the fly (measured: 64 MiB in 1.3 s instead of 0.2 s).
	return &Client{socket: path, http: &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 8, DisableCompression: true}}}
}

// defaultContext reports whether the docker command would use its default context.
func defaultContext(env []string) bool {
	if name, ok := execx.LookupEnv(env, "DOCKER_CONTEXT"); ok && name != "" {
		return name == "default"
	}
	dir, ok := execx.LookupEnv(env, "DOCKER_CONFIG")
	if !ok || dir == "" {
		home, _ := execx.LookupEnv(env, "HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		dir = filepath.Join(home, ".docker")
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		return false // unreadable: let the command line decide
	}
	return cfg.CurrentContext == "" || cfg.CurrentContext == "default"
}

// Error is the engine's refusal of a call.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("docker engine: %s (HTTP %d)", e.Message, e.Status)
}

// NotFound reports whether err is the engine saying that what was named does not exist.
func NotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// call makes one request and decodes a JSON answer into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, queryBound)
	defer cancel()
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("docker engine: %s %s: %w", method, path, err)
	}
	return nil
}

// send makes one request; an answer that is not a success is returned as an *Error.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	u := "http://docker" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", c.socket, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var msg struct {
			Message string `json:"message"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(b))
		}
		return nil, &Error{Status: resp.StatusCode, Message: msg.Message}
	}
	return resp, nil
}

// Filters is the API's filter argument: label=…, volume=…, status=….
type Filters map[string][]string

func (f Filters) query() url.Values {
	q := url.Values{}
	if len(f) > 0 {
		b, _ := json.Marshal(f)
		q.Set("filters", string(b))
	}
	return q
}

// Container is a container, the volumes it mounts (by name; bind mounts by source) and
// the host ports it publishes.
type Container struct {
	ID     string            `json:"Id"`
	Labels map[string]string `json:"Labels"`
	Mounts []struct {
		Name        string `json:"Name"`
		Source      string `json:"Source"`
		Destination string `json:"Destination"`
	} `json:"Mounts"`
	Ports []struct {
		PublicPort int `json:"PublicPort"` // 0: only exposed
	} `json:"Ports"`
}

// MountNames are the names of c's volumes and the sources of its other mounts, as
// `docker ps --format {{.Mounts}}` gives them.
func (c Container) MountNames() []string {
	var out []string
	for _, m := range c.Mounts {
		if m.Name != "" {
			out = append(out, m.Name)
		} else {
			out = append(out, m.Source)
		}
	}
	return out
}

// Containers lists the running containers matching f, or every container with all.
func (c *Client) Containers(ctx context.Context, f Filters, all bool) ([]Container, error) {
	q := f.query()
	if all {
		q.Set("all", "1")
	}
	var out []Container
	return out, c.call(ctx, http.MethodGet, "/containers/json", q, nil, &out)
}

// Info is what `docker info` says of the engine, the fields this tool reads.
type Info struct {
	OSType          string `json:"OSType"`
	Architecture    string `json:"Architecture"`
	MemTotal        int64  `json:"MemTotal"`
	NCPU            int    `json:"NCPU"`
	OperatingSystem string `json:"OperatingSystem"`
}

// Info asks the engine what it is.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var out Info
	return out, c.call(ctx, http.MethodGet, "/info", nil, nil, &out)
}

// Task is a Swarm task: where it runs, what it is doing, when it was made, and what it
// reserves.
type Task struct {
	ID        string    `json:"ID"`
	NodeID    string    `json:"NodeID"`
	CreatedAt time.Time `json:"CreatedAt"`
	Spec      struct {
		Resources struct {
			Reservations struct {
				MemoryBytes int64 `json:"MemoryBytes"`
			} `json:"Reservations"`
		} `json:"Resources"`
		ContainerSpec struct {
			Labels map[string]string `json:"Labels"`
		} `json:"ContainerSpec"`
	} `json:"Spec"`
	Status struct {
		State string `json:"State"`
		Err   string `json:"Err"`
	} `json:"Status"`
}

// Tasks lists a Swarm manager's tasks matching f (service=NAME, desired-state=running).
// A service filter naming no service is an error that NotFound recognises.
func (c *Client) Tasks(ctx context.Context, f Filters) ([]Task, error) {
	var out []Task
	return out, c.call(ctx, http.MethodGet, "/tasks", f.query(), nil, &out)
}

// Node is a Swarm node as its manager describes it (the fields `docker node inspect`
// gives that this tool reads).
type Node struct {
	ID   string `json:"ID"`
	Spec struct {
		Role         string `json:"Role"`
		Availability string `json:"Availability"`
	} `json:"Spec"`
	Description struct {
		Hostname  string `json:"Hostname"`
		Resources struct {
			MemoryBytes int64 `json:"MemoryBytes"`
		} `json:"Resources"`
	} `json:"Description"`
	Status struct {
		State string `json:"State"`
		Addr  string `json:"Addr"`
	} `json:"Status"`
}

// Nodes lists a Swarm manager's nodes matching f (id=…).
func (c *Client) Nodes(ctx context.Context, f Filters) ([]Node, error) {
	var out []Node
	return out, c.call(ctx, http.MethodGet, "/nodes", f.query(), nil, &out)
}

// ServiceNames lists the names of a Swarm manager's services matching f (label=…).
func (c *Client) ServiceNames(ctx context.Context, f Filters) ([]string, error) {
	var services []struct {
		Spec struct {
			Name string `json:"Name"`
		} `json:"Spec"`
	}
	if err := c.call(ctx, http.MethodGet, "/services", f.query(), nil, &services); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range services {
		out = append(out, s.Spec.Name)
	}
	return out, nil
}

// Volume is a named volume.
type Volume struct {
	Name   string            `json:"Name"`
	Labels map[string]string `json:"Labels"`
}

// Volumes lists the volumes matching f.
func (c *Client) Volumes(ctx context.Context, f Filters) ([]Volume, error) {
	var out struct {
		Volumes []Volume `json:"Volumes"`
	}
	return out.Volumes, c.call(ctx, http.MethodGet, "/volumes", f.query(), nil, &out)
}

// ImageTags lists the tags of the images matching f.
func (c *Client) ImageTags(ctx context.Context, f Filters) ([]string, error) {
	var images []struct {
		RepoTags []string `json:"RepoTags"`
	}
	if err := c.call(ctx, http.MethodGet, "/images/json", f.query(), nil, &images); err != nil {
		return nil, err
	}
	var out []string
	for _, im := range images {
		out = append(out, im.RepoTags...)
	}
	return out, nil
}

// ImageExists reports whether the engine has the image ref.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	err := c.call(ctx, http.MethodGet, "/images/"+ref+"/json", nil, nil, nil)
	if NotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Pause freezes a container; Unpause thaws it.
func (c *Client) Pause(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/pause", nil, nil, nil)
}

func (c *Client) Unpause(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/unpause", nil, nil, nil)
}

// Spec is what Create makes: an image's container with labels, volume binds
// ("volume:/path:ro") and no network.
type Spec struct {
	Image  string
	Cmd    []string
	Labels map[string]string
	Binds  []string
}

// Create creates (and does not start) a container, returning its id.
func (c *Client) Create(ctx context.Context, s Spec) (string, error) {
	body := map[string]any{
		"Image": s.Image, "Cmd": s.Cmd, "Labels": s.Labels,
		"HostConfig": map[string]any{"Binds": s.Binds, "NetworkMode": "none"},
	}
	var out struct {
		ID string `json:"Id"`
	}
	if err := c.call(ctx, http.MethodPost, "/containers/create", nil, body, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// Remove removes a container, running or not.
func (c *Client) Remove(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/containers/"+url.PathEscape(id), url.Values{"force": {"1"}}, nil, nil)
}

// Archive streams path inside the container as a tar (its entries under path's last
// element), as `docker cp ID:PATH -` does. The caller closes it; ctx bounds it.
func (c *Client) Archive(ctx context.Context, id, path string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/archive", url.Values{"path": {path}}, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
