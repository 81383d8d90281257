//go:build !windows

package dockerapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktrdr/sandbox/pkg/dockerapi/fakeengine"
)

// engine serves handler on a unix socket in a temp dir, as the Docker engine does.
func engine(t *testing.T, handler http.HandlerFunc) string {
	return fakeengine.Serve(t, handler)
}

func TestForEnvTakesOnlyASocketItCanTellWithoutDocker(t *testing.T) {
	sock := engine(t, func(http.ResponseWriter, *http.Request) {})
	home := t.TempDir()
	writeConfig := func(current string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"`+current+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tt := range []struct {
		name string
		env  []string
		want string // the socket, or "" for the command line
	}{
		{"DOCKER_HOST unix", []string{"HOME=" + home, "DOCKER_HOST=unix://" + sock}, sock},
		{"the last DOCKER_HOST wins", []string{"DOCKER_HOST=tcp://x:2375", "DOCKER_HOST=unix://" + sock}, sock},
		{"DOCKER_HOST ssh", []string{"HOME=" + home, "DOCKER_HOST=ssh://me@host"}, ""},
		{"DOCKER_HOST tcp", []string{"HOME=" + home, "DOCKER_HOST=tcp://127.0.0.1:2375"}, ""},
		{"a socket that is not there", []string{"DOCKER_HOST=unix:///nonexistent/d.sock"}, ""},
		{"a file that is not a socket", []string{"DOCKER_HOST=unix://" + filepath.Join(writeConfig("x"), "config.json")}, ""},
		{"DOCKER_CONTEXT names another", []string{"HOME=" + home, "DOCKER_CONTEXT=desktop-linux"}, ""},
		{"the configuration's current context is another", []string{"HOME=" + home, "DOCKER_CONFIG=" + writeConfig("colima")}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ForEnv(tt.env)
			if got := ""; ok {
				got = c.socket
				if got != tt.want {
					t.Errorf("socket %q, want %q", got, tt.want)
				}
			} else if tt.want != "" {
				t.Errorf("no client, want %q", tt.want)
			}
		})
	}
	// no docker command: the command-line path says so, the socket is not used
	t.Setenv("PATH", t.TempDir())
	if _, ok := ForEnv([]string{"DOCKER_HOST=unix://" + sock}); ok {
		t.Error("a client without a docker command")
	}
	// the default context (none named anywhere) is the default socket
	for _, env := range [][]string{
		{"HOME=" + home},
		{"HOME=" + home, "DOCKER_CONFIG=" + writeConfig("default")},
		{"HOME=" + home, "DOCKER_CONTEXT=default", "DOCKER_CONFIG=" + writeConfig("colima")},
	} {
		if !defaultContext(env) {
			t.Errorf("%v: not the default context", env)
		}
	}
}

func TestCallsAndTheEnginesAnswers(t *testing.T) {
	var created map[string]any
	sock := engine(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1.") {
			t.Errorf("a versioned path: %s", r.URL.Path)
		}
		switch {
		case r.URL.Path == "/containers/json":
			if r.URL.Query().Get("all") != "1" || r.URL.Query().Get("filters") != `{"label":["p=a"]}` {
				t.Errorf("query %v", r.URL.Query())
			}
			_, _ = io.WriteString(w, `[{"Id":"c1","Mounts":[{"Name":"a_db","Source":"/var/lib/docker/volumes/a_db/_data"},{"Name":"","Source":"/home/u/data"}],"Ports":[{"PrivatePort":80,"PublicPort":8001},{"PrivatePort":9000}]}]`)
		case r.URL.Path == "/info":
			_, _ = io.WriteString(w, `{"OSType":"linux","Architecture":"aarch64","MemTotal":8000000000,"NCPU":4,"OperatingSystem":"Docker Desktop","Other":1}`)
		case r.URL.Path == "/volumes":
			_, _ = io.WriteString(w, `{"Volumes":[{"Name":"a_db","Labels":{"k":"v"}}]}`)
		case r.URL.Path == "/tasks":
			if r.URL.Query().Get("filters") != `{"service":["s_db"]}` {
				t.Errorf("tasks query %v", r.URL.Query())
			}
			_, _ = io.WriteString(w, `[{"ID":"t1","NodeID":"n1","CreatedAt":"2026-12-04T23:00:00.5Z","Status":{"State":"starting","Err":""},"Spec":{}}]`)
		case r.URL.Path == "/containers/create" && r.Method == http.MethodPost:
			_ = json.NewDecoder(r.Body).Decode(&created)
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"Id":"new1"}`)
		case r.URL.Path == "/containers/new1/archive":
			if r.Header.Get("Accept-Encoding") != "" {
				t.Errorf("asked for %q: the engine would compress the archive", r.Header.Get("Accept-Encoding"))
			}
			_, _ = io.WriteString(w, "tar bytes")
		case r.URL.Path == "/images/missing:1/json":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"No such image: missing:1"}`)
		case r.URL.Path == "/containers/gone/pause":
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"message":"Container gone is not running"}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	c, ctx := New(sock), context.Background()
	cs, err := c.Containers(ctx, Filters{"label": {"p=a"}}, true)
	if err != nil || len(cs) != 1 || strings.Join(cs[0].MountNames(), ",") != "a_db,/home/u/data" || len(cs[0].Ports) != 2 || cs[0].Ports[0].PublicPort != 8001 || cs[0].Ports[1].PublicPort != 0 {
		t.Errorf("Containers = %+v, %v", cs, err)
	}
	if info, err := c.Info(ctx); err != nil || info != (Info{OSType: "linux", Architecture: "aarch64", MemTotal: 8e9, NCPU: 4, OperatingSystem: "Docker Desktop"}) {
		t.Errorf("Info = %+v, %v", info, err)
	}
	tasks, err := c.Tasks(ctx, Filters{"service": {"s_db"}})
	if err != nil || len(tasks) != 1 || tasks[0].ID != "t1" || tasks[0].Status.State != "starting" || tasks[0].CreatedAt.Nanosecond() != 5e8 {
		t.Errorf("Tasks = %+v, %v", tasks, err)
	}
	vols, err := c.Volumes(ctx, nil)
	if err != nil || len(vols) != 1 || vols[0].Name != "a_db" || vols[0].Labels["k"] != "v" {
		t.Errorf("Volumes = %+v, %v", vols, err)
	}
	id, err := c.Create(ctx, Spec{Image: "img", Cmd: []string{"idle"}, Binds: []string{"a_db:/0/v:ro"}})
	host, _ := created["HostConfig"].(map[string]any)
	if err != nil || id != "new1" || created["Image"] != "img" || host["NetworkMode"] != "none" || host["Binds"].([]any)[0] != "a_db:/0/v:ro" {
		t.Errorf("Create = %q, %v; sent %v", id, err, created)
	}
	r, err := c.Archive(ctx, "new1", "/0/v")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "tar bytes" {
		t.Errorf("Archive = %q", b)
	}
	if ok, err := c.ImageExists(ctx, "missing:1"); ok || err != nil {
		t.Errorf("a missing image: %v, %v", ok, err)
	}
	err = c.Pause(ctx, "gone")
	if err == nil || NotFound(err) || !strings.Contains(err.Error(), "Container gone is not running") || !strings.Contains(err.Error(), "409") {
		t.Errorf("a refusal: %v", err)
	}
	if err := c.Remove(ctx, "new1"); err != nil {
		t.Errorf("Remove: %v", err)
	}
}
