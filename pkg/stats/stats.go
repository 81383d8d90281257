package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/execx"
)

// Usage is what one compose project costs now.
type Usage struct {
	Containers int     `json:"containers"` // running containers measured
	MemBytes   int64   `json:"mem_bytes"`
	CPUPercent float64 `json:"cpu_percent"` // of one core, summed over containers
	DiskBytes  int64   `json:"disk_bytes"`  // of its volumes
}

// Bound is how long any one docker call may take.
var Bound = 20 * time.Second

// Collect measures every project named by the label (com.docker.compose.project): one
// `docker stats --no-stream` for all running containers, one `docker ps` to know each
// container's project, one `docker system df -v` for volume sizes, all at once. A project
// with no running container still gets its disk.
func Collect(ctx context.Context, env []string, label string) (map[string]Usage, error) {
	var wg sync.WaitGroup
	var statsOut, psOut, dfOut string
	var statsErr, psErr, dfErr error
	run := func(out *string, err *error, args ...string) {
		defer wg.Done()
		*out, *err = execx.Output(ctx, execx.Cmd{Name: "docker", Args: args, Env: env, Timeout: Bound})
	}
	wg.Add(3)
	go run(&statsOut, &statsErr, "stats", "--no-stream", "--format", "{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}")
	go run(&psOut, &psErr, "ps", "--filter", "label="+label, "--format", fmt.Sprintf(`{{.Names}}	{{.Label %q}}`, label))
	go run(&dfOut, &dfErr, "system", "df", "-v", "--format", "{{json .Volumes}}")
	wg.Wait()
	for _, err := range []error{statsErr, psErr, dfErr} {
		if err != nil {
			return nil, err
		}
	}
	project := map[string]string{}
	for _, line := range lines(psOut) {
		if name, p, ok := strings.Cut(line, "\t"); ok && p != "" {
			project[name] = p
		}
	}
	out := map[string]Usage{}
	containers, err := ParseStats(statsOut)
	if err != nil {
		return nil, err
	}
	for name, c := range containers {
		p, ok := project[name]
		if !ok {
			continue
		}
		u := out[p]
		u.Containers++
		u.MemBytes += c.MemBytes
		u.CPUPercent += c.CPUPercent
		out[p] = u
	}
	volumes, err := ParseVolumes(dfOut, label)
	if err != nil {
		return nil, err
	}
	for p, bytes := range volumes {
		u := out[p]
		u.DiskBytes += bytes
		out[p] = u
	}
	return out, nil
}

// ParseStats reads `docker stats --no-stream --format '{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}'`.
func ParseStats(s string) (map[string]Usage, error) {
	out := map[string]Usage{}
	for _, line := range lines(s) {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("docker stats: unexpected line %q", line)
		}
		cpu, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(f[1]), "%"), 64)
		if err != nil && strings.TrimSpace(f[1]) != "--" {
			return nil, fmt.Errorf("docker stats: CPU %q: %w", f[1], err)
		}
		used, _, _ := strings.Cut(f[2], "/")
		mem, err := ParseSize(used)
		if err != nil && strings.TrimSpace(used) != "--" {
			return nil, fmt.Errorf("docker stats: memory %q: %w", f[2], err)
		}
		out[f[0]] = Usage{Containers: 1, MemBytes: mem, CPUPercent: cpu}
	}
	return out, nil
}

// ParseVolumes reads `docker system df -v --format '{{json .Volumes}}'` and sums the
// volumes' sizes per value of label.
func ParseVolumes(s, label string) (map[string]int64, error) {
	s = strings.TrimSpace(s)
	out := map[string]int64{}
	if s == "" || s == "null" {
		return out, nil
	}
	var vols []struct {
		Name, Labels, Size string
	}
	if err := json.Unmarshal([]byte(s), &vols); err != nil {
		return nil, fmt.Errorf("docker system df: %w", err)
	}
	for _, v := range vols {
		var project string
		for _, kv := range strings.Split(v.Labels, ",") {
			if k, val, ok := strings.Cut(kv, "="); ok && k == label {
				project = val
			}
		}
		if project == "" {
			continue
		}
		n, err := ParseSize(v.Size)
		if err != nil {
			continue // "N/A" while docker is still measuring
		}
		out[project] += n
	}
	return out, nil
}

var units = map[string]float64{
	"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize reads the sizes docker prints: decimal ("28.76MB", "2B", "1.2kB") and binary
// ("1.672MiB").
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	mult, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit", s)
	}
	return int64(n * mult), nil
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
