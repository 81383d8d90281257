package engine

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]string{
		"ssh://host":                "ssh://host",
		"ssh://alice@box.lan:2222":  "ssh://alice@box.lan:2222",
		"ssh://root@10.200.0.2/":    "ssh://root@10.200.0.2",
		"ssh://[::1]:22":            "ssh://[::1]:22",
		"ssh://deploy_1@build-01.x": "ssh://deploy_1@build-01.x",
	}
	for in, want := range good {
		e, err := Parse(in)
		if err != nil || e.Endpoint != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, e.Endpoint, err, want)
		}
	}
	for _, in := range []string{"", "host", "tcp://host:2375", "unix:///var/run/docker.sock", "ssh://", "ssh://-oProxyCommand=x",
		"ssh://a:b@host", "ssh://host:0", "ssh://host:99999", "ssh://host/path", "ssh://host?x=1", "ssh://-l@host", "ssh:host"} {
		if _, err := Parse(in); !errors.Is(err, ErrEndpoint) {
			t.Errorf("Parse(%q) accepted (%v)", in, err)
		}
	}
}

func TestDestinationAndKey(t *testing.T) {
	e, _ := Parse("ssh://alice@box:2222")
	if d, p := e.Destination(); d != "alice@box" || p != "2222" {
		t.Fatalf("destination %q %q", d, p)
	}
	f, _ := Parse("ssh://box")
	if d, p := f.Destination(); d != "box" || p != "" {
		t.Fatalf("destination %q %q", d, p)
	}
	if e.Key() == f.Key() || len(e.Key()) != 10 || e.Key() != (Engine{Endpoint: "ssh://alice@box:2222"}).Key() {
		t.Fatalf("keys %q %q", e.Key(), f.Key())
	}
	if (Engine{}).Name() != "local" || (Engine{Endpoint: "ssh://h", Context: "big"}).Name() != "big" || f.Name() != "ssh://box" {
		t.Fatal("names")
	}
}

func TestParseListening(t *testing.T) {
	proc := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A2C4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`
	got := parseListening(proc)
	if len(got) != 2 || !got[8080] || !got[22] || got[41668] {
		t.Fatalf("listening %v", got)
	}
}

func TestQuote(t *testing.T) {
	if Quote(`it's`) != `'it'\''s'` || Quote("a b") != "'a b'" {
		t.Fatal(Quote(`it's`))
	}
}

func TestFromContext(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker command line")
	}
	// A docker config of its own: the user's contexts are neither read nor changed.
	env := append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	docker := func(args ...string) {
		t.Helper()
		cmd := exec.Command("docker", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	docker("context", "create", "big", "--docker", "host=ssh://me@big-box:2222")
	docker("context", "create", "plain-tcp", "--docker", "host=tcp://10.0.0.1:2375")
	ctx := context.Background()
	e, err := FromContext(ctx, "big", env)
	if err != nil || e.Endpoint != "ssh://me@big-box:2222" || e.Context != "big" || e.Name() != "big" {
		t.Fatalf("context big: %+v %v", e, err)
	}
	if _, err := FromContext(ctx, "plain-tcp", env); !errors.Is(err, ErrEndpoint) {
		t.Fatalf("a tcp:// context was accepted: %v", err)
	}
	if _, err := FromContext(ctx, "no-such-context", env); err == nil || !strings.Contains(err.Error(), "no-such-context") {
		t.Fatalf("a missing context: %v", err)
	}
	// Docker Desktop's context: a unix socket on this machine, the local engine once it
	// is the one docker uses.
	docker("context", "create", "desktop-linux", "--docker", "host=unix:///Users/me/.docker/run/docker.sock")
	if _, err := FromContext(ctx, "desktop-linux", env); !errors.Is(err, ErrOtherLocalContext) || !strings.Contains(err.Error(), "docker context use desktop-linux") {
		t.Fatalf("desktop-linux while another context is current: %v", err)
	}
	docker("context", "use", "desktop-linux")
	if e, err := FromContext(ctx, "desktop-linux", env); err != nil || !e.Local() {
		t.Fatalf("desktop-linux as the current context: %+v %v", e, err)
	}
}

func TestRsyncVersionOK(t *testing.T) {
	for out, ok := range map[string]bool{
		"rsync  version 3.2.7  protocol version 31\nCopyright (C) 1996-2022": true,
		"rsync  version v3.4.1  protocol version 32\n":                       true,
		"rsync  version 3.1.0  protocol version 31":                          true,
		"rsync  version 3.0.9  protocol version 30":                          false,
		"rsync  version 2.6.9  protocol version 29\n":                        false,
		"openrsync: protocol version 29\nrsync version 2.6.9 compatible":     false,
	} {
		err := rsyncVersionOK(out)
		if (err == nil) != ok || err != nil && (!errors.Is(err, ErrRsync) || !strings.Contains(err.Error(), "brew install rsync")) {
			t.Errorf("%q: %v", out, err)
		}
	}
}
