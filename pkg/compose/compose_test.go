package compose

import "testing"

func TestHealthOfReadsDockerStatus(t *testing.T) {
	for status, want := range map[string]string{
		"Up 3 minutes (healthy)": "healthy", "Up 3 minutes (unhealthy)": "unhealthy",
		"Up 2 seconds (health: starting)": "starting", "Up 3 minutes": "", "Exited (0) 1 minute ago": "",
	} {
		if got := healthOf(status); got != want {
			t.Errorf("healthOf(%q) = %q, want %q", status, got, want)
		}
	}
}

func TestArgsAreScopedToTheProject(t *testing.T) {
	p := Project{Name: "ktrdr--x", Dir: "/w", File: "/w/c.yml", Profiles: []string{"local-prod"}}
	got := p.args("down")
	want := []string{"compose", "--project-name", "ktrdr--x", "--project-directory", "/w", "--file", "/w/c.yml", "--profile", "local-prod", "down"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v", got)
		}
	}
}

func TestParseImagesAndLabelledText(t *testing.T) {
	got := parseImages("acme--a-web:latest\tcea25c8c3955\t2.4MB\n<none>:<none>\t92abc03e5f36\t28.8MB\n\nbroken line\n")
	if len(got) != 2 || got[0].Ref != "acme--a-web:latest" || got[0].Bytes != 2400000 || got[1].Ref != "<none>@92abc03e5f36" {
		t.Fatalf("%+v", got)
	}
	l := Labelled{Containers: []string{"a-web-1", "a-db-1"}, Volumes: []string{"a_data"}, Images: got[:1]}
	if s := l.String(); s != "2 containers (a-web-1, a-db-1), 1 volume (a_data), 1 image (acme--a-web:latest)" || l.Empty() || l.ImageBytes() != 2400000 {
		t.Errorf("%q", s)
	}
	if !(Labelled{}).Empty() {
		t.Error("nothing is not empty")
	}
}

func TestParsePublished(t *testing.T) {
	got := parsePublished("127.0.0.1:8001->8000/tcp, :::8001->8000/tcp\n8000/tcp\n0.0.0.0:5011-5013->5003-5005/tcp, [::]:9091->9090/tcp\n\n")
	want := []int{8001, 5011, 5012, 5013, 9091}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for _, p := range want {
		if !got[p] {
			t.Errorf("%d missing from %v", p, got)
		}
	}
}
