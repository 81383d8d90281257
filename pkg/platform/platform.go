package platform

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ktrdr/sandbox/pkg/dockerapi"
	"github.com/ktrdr/sandbox/pkg/execx"
)

// Platform is an OS and CPU as Docker names them: "linux/arm64", "linux/arm/v7".
type Platform struct {
	OS      string `json:"os"`
	Arch    string `json:"architecture"`
	Variant string `json:"variant,omitempty"`
}

func (p Platform) String() string {
	if p.OS == "" {
		return ""
	}
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// IsZero reports an unknown platform.
func (p Platform) IsZero() bool { return p.OS == "" }

// ErrPlatform is wrapped by every refusal of a platform string.
var ErrPlatform = errors.New("not a platform")

// Parse reads "os/arch[/variant]" (Docker's spelling; "linux/x86_64" and "linux/aarch64"
// are taken as their Go names, as Docker takes them).
func Parse(s string) (Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("%q: %w (give os/arch, e.g. linux/arm64)", s, ErrPlatform)
	}
	p := Platform{OS: parts[0], Arch: normalArch(parts[1])}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.Arch == "arm" && p.Variant == "" {
		p.Variant = "v7"
	}
	if p.Arch == "arm64" && p.Variant == "v8" {
		p.Variant = ""
	}
	return p, nil
}

// normalArch turns the kernel's machine names (`uname -m`, docker info's Architecture)
// into Go's, which Docker's platforms use.
func normalArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64", "armv8", "armv8l":
		return "arm64"
	case "armv7l", "armv7", "armhf", "armv6l":
		return "arm"
	case "i386", "i686":
		return "386"
	}
	return a
}

// FromKernel is the platform a server reports as OSType and Architecture ("x86_64").
func FromKernel(osType, machine string) Platform {
	p := Platform{OS: strings.ToLower(osType), Arch: normalArch(strings.ToLower(machine))}
	switch strings.ToLower(machine) {
	case "armv7l", "armv7", "armhf":
		p.Variant = "v7"
	case "armv6l":
		p.Variant = "v6"
	}
	return p
}

// BuildEnv is the environment of a command that builds for p: the documented
// SANDBOX_PLATFORM variables and DOCKER_DEFAULT_PLATFORM (so a docker build inside it
// targets the engine too); with goBuild, also GOOS, GOARCH and GOARM, so `go build`
// makes a binary the engine's containers can run, whatever machine the tool runs on.
func (p Platform) BuildEnv(goBuild bool) map[string]string {
	m := map[string]string{
		"SANDBOX_PLATFORM":         p.String(),
		"SANDBOX_PLATFORM_OS":      p.OS,
		"SANDBOX_PLATFORM_ARCH":    p.Arch,
		"SANDBOX_PLATFORM_VARIANT": p.Variant,
		"DOCKER_DEFAULT_PLATFORM":  p.String(),
	}
	if goBuild {
		m["GOOS"], m["GOARCH"] = p.OS, p.Arch
		if p.Arch == "arm" {
			m["GOARM"] = strings.TrimPrefix(p.Variant, "v")
		}
	}
	return m
}

// DefaultPlatformEnv is the variable with which a user asks Docker's tools for another
// platform than the engine's own; it is honoured here too.
const DefaultPlatformEnv = "DOCKER_DEFAULT_PLATFORM"

// Engine is what one engine is, as learned once from `docker info`.
type Engine struct {
	// Platform is what containers of this tool run as: Native, or what
	// DOCKER_DEFAULT_PLATFORM asks for (run under emulation when it differs).
	Platform Platform `json:"platform"`
	// Native is the engine's own OS and CPU.
	Native Platform `json:"native"`
	// Requested is true when Platform came from DOCKER_DEFAULT_PLATFORM.
	Requested bool `json:"requested,omitempty"`
	// MemTotal is the memory the engine's containers share (a Desktop VM's size), bytes.
	MemTotal int64 `json:"mem_total"`
	CPUs     int   `json:"cpus"`
	// OperatingSystem is the engine host's OS as Docker names it ("Docker Desktop",
	// "Debian GNU/Linux 12 (bookworm)").
	OperatingSystem string `json:"operating_system"`
}

// Desktop reports whether the engine is Docker Desktop's VM: a machine with fixed memory
// and disk, which sees only the host paths shared with it.
func (e Engine) Desktop() bool { return strings.Contains(e.OperatingSystem, "Docker Desktop") }

// Emulated reports whether containers run under emulation (another CPU than the engine's).
func (e Engine) Emulated() bool { return e.Platform.String() != e.Native.String() }

// infoFormat asks docker info for what Engine holds, one field a line.
const infoFormat = "{{.OSType}}\n{{.Architecture}}\n{{.MemTotal}}\n{{.NCPU}}\n{{.OperatingSystem}}"

// ParseInfo reads the answer to infoFormat and applies DOCKER_DEFAULT_PLATFORM from env
// (the environment the docker commands run with).
func ParseInfo(out string, env []string) (Engine, error) {
	f := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(f) < 5 || f[0] == "" || f[1] == "" {
		return Engine{}, fmt.Errorf("docker info answered %q", out)
	}
	e := Engine{Native: FromKernel(f[0], f[1]), OperatingSystem: f[4]}
	e.MemTotal, _ = strconv.ParseInt(f[2], 10, 64)
	e.CPUs, _ = strconv.Atoi(f[3])
	p, requested, err := Resolve(e.Native, env)
	if err != nil {
		return Engine{}, err
	}
	e.Platform, e.Requested = p, requested
	return e, nil
}

// Resolve is what containers run as on an engine whose own platform is native: what
// DOCKER_DEFAULT_PLATFORM in env asks for (requested), else native.
func Resolve(native Platform, env []string) (p Platform, requested bool, err error) {
	v, _ := execx.LookupEnv(env, DefaultPlatformEnv)
	if v == "" {
		return native, false, nil
	}
	if p, err = Parse(v); err != nil {
		return Platform{}, false, fmt.Errorf("%s: %w", DefaultPlatformEnv, err)
	}
	return p, true, nil
}

// Learn asks the engine that env's docker reaches what it is: through its socket when
// docker reaches it through one (see pkg/dockerapi), else with docker info.
func Learn(ctx context.Context, env []string) (Engine, error) {
	if api, ok := dockerapi.ForEnv(env); ok {
		if i, err := api.Info(ctx); err == nil {
			return ParseInfo(fmt.Sprintf("%s\n%s\n%d\n%d\n%s", i.OSType, i.Architecture, i.MemTotal, i.NCPU, i.OperatingSystem), env)
		}
	}
	out, err := execx.Output(ctx, execx.Cmd{Name: "docker", Args: []string{"info", "--format", infoFormat}, Env: env, Timeout: 30 * time.Second})
	if err != nil {
		return Engine{}, fmt.Errorf("docker info: %w", err)
	}
	return ParseInfo(out, env)
}

// CannotExec reports the kernel's refusal of a program built for a CPU it neither is nor
// emulates, as a container's runtime or the program's launcher words it.
func CannotExec(msg string) bool { return strings.Contains(msg, "exec format error") }
