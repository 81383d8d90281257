// Package targets holds the Mage targets: the Sandbox and LocalProd namespaces. Each
// target parses its flags, builds a core.Env from the process, calls one operation of
// pkg/core, renders its typed result and remedies as text or JSON, and turns its error
// into Mage's exit code. It is the only package that knows Mage and the only one that
// prints for a person. A repository uses it with
//
//	//mage:import
//	"github.com/ktrdr/sandbox/pkg/targets"
//
// and sets targets.Config (config.New("itsname") plus its ports) in its magefile's init.
package targets
