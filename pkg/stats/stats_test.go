package stats

import "testing"

func TestParseRecordedDockerOutput(t *testing.T) {
	// recorded from Docker 20.10.24 on this project's machines
	st, err := ParseStats("acme--a-db-1\t0.00%\t1.672MiB / 23.54GiB\nacme--a-web-1\t1.50%\t10MiB / 23.54GiB\nstarting\t--\t-- / --\n")
	if err != nil {
		t.Fatal(err)
	}
	if st["acme--a-db-1"].MemBytes != 1753219 || st["acme--a-web-1"].CPUPercent != 1.5 || st["acme--a-web-1"].MemBytes != 10<<20 {
		t.Errorf("%+v", st)
	}
	vols, err := ParseVolumes(`[{"Availability":"N/A","Driver":"local","Labels":"com.docker.compose.project=acme--a,com.docker.compose.volume=db_data","Links":"1","Name":"acme--a_db_data","Size":"2B"},`+
		`{"Labels":"com.docker.compose.project=acme--a","Name":"acme--a_cache","Size":"1.5MB"},{"Labels":"","Name":"loose","Size":"9GB"},{"Labels":"com.docker.compose.project=x","Name":"x_v","Size":"N/A"}]`,
		"com.docker.compose.project")
	if err != nil {
		t.Fatal(err)
	}
	if vols["acme--a"] != 1_500_002 || len(vols) != 1 {
		t.Errorf("%v", vols)
	}
	if _, err := ParseStats("garbage"); err == nil {
		t.Error("a line of another shape is an error")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2B": 2, "1.2kB": 1200, "28.76MB": 28_760_000, "1GiB": 1 << 30, "0B": 0, " 3 MiB ": 3 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "12XB", "N/A"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}
