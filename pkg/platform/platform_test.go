package platform

import (
	"context"
	"errors"
	"os/exec"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"linux/arm64":    "linux/arm64",
		"linux/aarch64":  "linux/arm64",
		"linux/x86_64":   "linux/amd64",
		"LINUX/AMD64":    "linux/amd64",
		"linux/arm":      "linux/arm/v7",
		"linux/arm/v6":   "linux/arm/v6",
		"linux/arm64/v8": "linux/arm64",
	} {
		p, err := Parse(in)
		if err != nil || p.String() != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "linux", "/arm64", "linux/", "a/b/c/d"} {
		if _, err := Parse(bad); !errors.Is(err, ErrPlatform) {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
}

func TestFromKernel(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"linux", "x86_64"}:  "linux/amd64",
		{"linux", "aarch64"}: "linux/arm64",
		{"linux", "armv7l"}:  "linux/arm/v7",
		{"linux", "s390x"}:   "linux/s390x",
	} {
		if got := FromKernel(in[0], in[1]).String(); got != want {
			t.Errorf("%v: %s, want %s", in, got, want)
		}
	}
}

// desktopInfo is what docker info says of Docker Desktop on an Apple Silicon Mac.
const desktopInfo = "linux\naarch64\n8217473024\n8\nDocker Desktop\n"

// TestADarwinHostWithALinuxEngineBuildsForLinux: what the tool builds for comes from the
// engine's answer, never from the machine the tool runs on (a Mac is darwin/arm64).
func TestADarwinHostWithALinuxEngineBuildsForLinux(t *testing.T) {
	e, err := ParseInfo(desktopInfo, []string{"HOME=/Users/me", "GOOS=darwin", "GOARCH=arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Desktop() || e.Emulated() || e.MemTotal != 8217473024 || e.CPUs != 8 {
		t.Errorf("%+v", e)
	}
	env := e.Platform.BuildEnv(true)
	if env["GOOS"] != "linux" || env["GOARCH"] != "arm64" || env["SANDBOX_PLATFORM"] != "linux/arm64" || env["DOCKER_DEFAULT_PLATFORM"] != "linux/arm64" {
		t.Errorf("build env %v", env)
	}
	if _, set := e.Platform.BuildEnv(false)["GOOS"]; set {
		t.Error("GOOS set for a command that is not a go build")
	}
	// An Intel Mac asking for ARM images (or CI asking for emulated arm64) gets them.
	e, err = ParseInfo("linux\nx86_64\n25276203008\n2\nDebian GNU/Linux 12 (bookworm)\n", []string{"DOCKER_DEFAULT_PLATFORM=linux/arm64"})
	if err != nil || e.Platform.String() != "linux/arm64" || e.Native.String() != "linux/amd64" || !e.Requested || !e.Emulated() || e.Desktop() {
		t.Errorf("%+v %v", e, err)
	}
	if _, err := ParseInfo(desktopInfo, []string{"DOCKER_DEFAULT_PLATFORM=arm64"}); !errors.Is(err, ErrPlatform) {
		t.Errorf("a bad DOCKER_DEFAULT_PLATFORM: %v", err)
	}
	if env := (Platform{OS: "linux", Arch: "arm", Variant: "v7"}).BuildEnv(true); env["GOARM"] != "7" {
		t.Errorf("arm/v7: %v", env)
	}
	if _, err := ParseInfo("", nil); err == nil {
		t.Error("an empty answer parsed")
	}
}

// TestLearnFromTheRealEngine asks this machine's engine, when there is one.
func TestLearnFromTheRealEngine(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker command")
	}
	e, err := Learn(context.Background(), nil)
	if err != nil {
		t.Skipf("no engine answers: %v", err)
	}
	if e.Native.OS != "linux" || e.Native.Arch == "" || e.MemTotal <= 0 || e.CPUs <= 0 {
		t.Errorf("%+v", e)
	}
}
