//go:build !windows

package snapshot

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/ktrdr/sandbox/pkg/dockerapi"
	"github.com/ktrdr/sandbox/pkg/dockerapi/fakeengine"
)

// A volume is read from its writer only at a mount with nothing mounted beneath it: a
// copy of /data would carry the volume mounted at /data/cache (or a bind mount there)
// into /data's snapshot.
func TestAWriterIsReadOnlyAtAMountWithNothingBeneathIt(t *testing.T) {
	sock := fakeengine.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"Id":"c1","Mounts":[`+
			`{"Name":"p_a","Destination":"/data"},{"Name":"p_b","Destination":"/data/cache"},`+
			`{"Name":"p_c","Destination":"/srv/"},{"Source":"/host/conf","Destination":"/srv/conf"},`+
			`{"Name":"p_d","Destination":"/d"},{"Name":"p_e","Destination":"/dd"}]}]`)
	}))
	cs, err := Docker{API: dockerapi.New(sock)}.Running(context.Background(), "p")
	if err != nil || len(cs) != 1 {
		t.Fatalf("Running = %+v, %v", cs, err)
	}
	at := cs[0].At
	want := map[string]string{"p_b": "/data/cache", "p_d": "/d", "p_e": "/dd"}
	if len(at) != len(want) {
		t.Errorf("At = %v, want %v (p_a has p_b beneath it, p_c a bind mount)", at, want)
	}
	for v, path := range want {
		if at[v] != path {
			t.Errorf("At[%s] = %q, want %q", v, at[v], path)
		}
	}
}
