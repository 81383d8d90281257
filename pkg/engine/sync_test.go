package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMirrorKeepsAPathAsIs: a checkout whose path holds a space, quotes and a command
// substitution arrives at exactly that path on the engine's host, and nothing in it
// runs there, with this rsync as it is and as every rsync before 3.2.4 is (Debian 11,
// Ubuntu 22.04, RHEL 8 and 9): RSYNC_OLD_ARGS=1 makes it pass its remote path through
// the remote shell as those do.
func TestMirrorKeepsAPathAsIs(t *testing.T) {
	e := testbed(t)
	for _, rsyncArgs := range []string{"RSYNC_OLD_ARGS=1", "RSYNC_OLD_ARGS=0"} {
		t.Run(rsyncArgs, func(t *testing.T) { mirrorKeepsAPathAsIs(t, e, rsyncArgs) })
	}
}

func mirrorKeepsAPathAsIs(t *testing.T, e Engine, rsyncArgs string) {
	ctx := context.Background()
	tun := Tunnel{Engine: e, Dir: filepath.Join(shortDir(t), e.Key()), Env: append(os.Environ(), rsyncArgs)}
	if _, err := tun.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tun.Stop(context.Background()) })
	base := shortDir(t)
	checkout := filepath.Join(base, `my "work" 'copy' $(touch pwned)`)
	if err := os.MkdirAll(checkout, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(checkout, "compose.yml"), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// the remote shell's directory is the remote user's home: a substitution that ran
	// there leaves pwned in it
	t.Cleanup(func() { _, _ = tun.Run(context.Background(), nil, "rm -rf -- "+Quote(base)+" ~/pwned") })

	if _, err := tun.PrepareMirror(ctx, checkout, nil); err != nil {
		t.Fatal(err)
	}
	if err := tun.CopyMirror(ctx, checkout, checkout, []string{"/.git"}, nil); err != nil {
		t.Errorf("mirror: %v", err)
	}
	got, err := tun.Run(ctx, nil, "cat "+Quote(filepath.Join(checkout, "compose.yml"))+"; ls -A "+Quote(base))
	if err != nil {
		t.Fatal(err)
	}
	if want := "services: {}\n" + filepath.Base(checkout) + "\n"; got != want {
		t.Errorf("on the engine's host:\n%q\nwant\n%q", got, want)
	}
	ran, err := tun.Run(ctx, nil, "ls ~/pwned "+Quote(base)+"/pwned 2>/dev/null || true")
	if err != nil || strings.TrimSpace(ran) != "" {
		t.Errorf("the path's $(touch pwned) ran on the engine's host: %q %v", ran, err)
	}
}
