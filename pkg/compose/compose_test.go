package compose

import "testing"

func TestParsePSBothFormats(t *testing.T) {
	ndjson := `{"Name":"p-backend-1","Service":"backend","State":"running","Health":"healthy","Publishers":[{"URL":"127.0.0.1","TargetPort":8000,"PublishedPort":8001,"Protocol":"tcp"}]}
{"Name":"p-db-1","Service":"db","State":"exited","Publishers":[{"TargetPort":5432,"PublishedPort":0}]}`
	array := `[{"Name":"p-backend-1","Service":"backend","State":"running","Publishers":[{"PublishedPort":8001}]},{"Name":"p-db-1","Service":"db","State":"exited"}]`
	for name, in := range map[string]string{"ndjson": ndjson, "array": array} {
		cs, err := parsePS([]byte(in))
		if err != nil || len(cs) != 2 {
			t.Fatalf("%s: %v %v", name, cs, err)
		}
		ports := PublishedPorts(cs)
		if !ports[8001] || len(ports) != 1 {
			t.Errorf("%s: published %v", name, ports)
		}
	}
	if cs, err := parsePS([]byte("\n")); err != nil || cs != nil {
		t.Fatalf("empty: %v %v", cs, err)
	}
}

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
