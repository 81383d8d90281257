package mcpserver

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ktrdr/sandbox/pkg/config"
	"github.com/ktrdr/sandbox/pkg/core"
)

// resourceScheme prefixes each instance's resource URI: sandbox://<instance id>.
const resourceScheme = "sandbox://"

// InstanceResource is what an instance's resource holds: where to reach it and the
// environment it runs with, secrets left out.
type InstanceResource struct {
	InstanceID string            `json:"instance_id"`
	Kind       config.Kind       `json:"kind"`
	Slot       int               `json:"slot"`
	Path       string            `json:"path"`
	Services   []core.Endpoint   `json:"services"`
	Workers    []core.Endpoint   `json:"workers"`
	Ports      map[string]int    `json:"ports"`
	Env        map[string]string `json:"env"`
}

// secretName is a variable name that may hold a secret even when the table does not list
// it: such values are left out of resources too.
var secretName = regexp.MustCompile(`(?i)secret|password|passwd|token|api_?key|private|credential`)

// publicEnv is vars without the table's secrets and anything named like one.
func publicEnv(cfg config.Config, vars map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		if secretName.MatchString(k) || slices.ContainsFunc(cfg.Secrets, func(f config.SecretField) bool { return f.Env == k }) {
			continue
		}
		out[k] = v
	}
	return out
}

// refreshResources makes the served resources the registered instances of this
// repository; the SDK tells subscribed clients when that list changed.
func (s *Server) refreshResources() {
	e, err := s.o.Env(s.o.Dir)
	if err != nil {
		return
	}
	reg, err := e.RegistryStore().Load()
	if err != nil {
		return // the next call tries again; a tool reports the registry's problem
	}
	want := map[string]string{} // uri -> instance name as tools take it
	for _, in := range reg.Sorted() {
		if s.inScope(in) {
			want[resourceScheme+in.InstanceID] = in.InstanceID
		}
	}
	if reg.LocalProd != nil {
		want[resourceScheme+reg.LocalProd.InstanceID] = LocalProdName
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for uri := range s.res {
		if _, ok := want[uri]; !ok {
			gone = append(gone, uri)
			delete(s.res, uri)
		}
	}
	if len(gone) > 0 {
		s.mcp.RemoveResources(gone...)
	}
	for uri, name := range want {
		if s.res[uri] {
			continue
		}
		s.res[uri] = true
		s.mcp.AddResource(&mcp.Resource{URI: uri, Name: strings.TrimPrefix(uri, resourceScheme), MIMEType: "application/json",
			Description: "URLs, ports and environment (without secrets) of " + name},
			func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return s.readResource(req.Params.URI, name)
			})
	}
}

func (s *Server) readResource(uri, name string) (*mcp.ReadResourceResult, error) {
	t, err := s.resolve(name)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	e, err := s.o.Env(t.dir)
	if err != nil {
		return nil, err
	}
	in, err := e.Current(t.kind)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	r := InstanceResource{InstanceID: in.ID, Kind: t.kind, Slot: in.Slot, Path: in.Dir,
		Services: in.Endpoints(s.cfg, false), Workers: in.Endpoints(s.cfg, true), Ports: in.Ports(s.cfg), Env: publicEnv(s.cfg, in.Vars)}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(data)}}}, nil
}
