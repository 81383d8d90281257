package envfile

import "testing"

// FuzzParse: no input may panic the reader, and whatever it reads must write back and
// read again to the same values, or be refused by the writer.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"A=1\nB='two words'\n", "# c\nK=v # c\n", "K=\"a\\nb\"\n", "export K=v\n", "K='x\n", "=\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := Parse(data)
		if err != nil {
			return
		}
		out, err := Format(vars)
		if err != nil {
			return
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-reading our own output failed: %v\n%s", err, out)
		}
		for k, v := range vars {
			if again[k] != v {
				t.Fatalf("%s: %q became %q through\n%s", k, v, again[k], out)
			}
		}
	})
}
