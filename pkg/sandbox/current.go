package sandbox

import (
	"github.com/ktrdr/sandbox/pkg/fail"
	"github.com/ktrdr/sandbox/pkg/instance"
)

// Current is the sandbox whose directory is the current directory. The local-prod clone
// is refused: sandbox targets would run it with development settings.
func (s Sandboxes) Current() (*instance.Instance, error) {
	h := s.Host
	in, err := instance.Load(h.Config, h.Cwd)
	if err != nil {
		return nil, err
	}
	if in.Slot == h.Config.LocalProd.Slot || in.ID == h.Config.LocalProd.InstanceID {
		return nil, fail.New(fail.CodeError, "Use the localProd:* targets for it",
			"%s is local-prod, not a sandbox", in.Dir)
	}
	return in, nil
}
