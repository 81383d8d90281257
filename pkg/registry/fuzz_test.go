package registry

import "testing"

// FuzzParse: no input panics, and whatever parses survives a save and a re-read with the
// same instances.
func FuzzParse(f *testing.F) {
	f.Add([]byte(ktrdrFile))
	f.Add([]byte(`{"version":1,"local_prod":null,"instances":{}}`))
	f.Add([]byte(`{"instances":{"a":{"slot":1,"path":"/a","extra":[1,{"b":null}]}}}`))
	f.Add([]byte(`{"version":1,"instances":{"a":{"slot":1.5,"path":"/a"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := Parse(data)
		if err != nil {
			return
		}
		out, err := reg.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-reading our own output: %v\n%s", err, out)
		}
		if len(again.Instances) != len(reg.Instances) || (again.LocalProd == nil) != (reg.LocalProd == nil) {
			t.Fatalf("instances changed through a save:\n%s", out)
		}
		for id, in := range reg.Instances {
			b := again.Instances[id]
			if b == nil || b.Slot != in.Slot || b.Path != in.Path || b.InstanceID != in.InstanceID {
				t.Fatalf("%s changed: %+v -> %+v", id, in, b)
			}
		}
	})
}
