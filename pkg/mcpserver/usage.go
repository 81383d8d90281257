package mcpserver

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/ktrdr/sandbox/pkg/core"
	"github.com/ktrdr/sandbox/pkg/stats"
)

// How old the usage figures status and list return through the server may be. Measuring
// them (docker stats samples twice) takes about 2 s, which is nearly all of a status; a
// long-lived server can answer from the last measurement and measure again behind it.
var (
	usageFresh  = 5 * time.Second  // older than this: measured again in the background
	usageMaxAge = 60 * time.Second // older than this: measured again before answering
)

// usageCache is the engine's last usage figures, shared by the calls of one server.
type usageCache struct {
	mu         sync.Mutex
	label      string
	at         time.Time
	byProject  map[string]stats.Usage
	refreshing bool
}

// get is the figures for label: the kept ones while young enough (starting a new
// measurement when they are no longer fresh), else measured now.
func (c *usageCache) get(ctx context.Context, d core.Docker, label string) (map[string]stats.Usage, error) {
	c.mu.Lock()
	if c.byProject != nil && c.label == label && time.Since(c.at) < usageMaxAge {
		if time.Since(c.at) > usageFresh && !c.refreshing {
			c.refreshing = true
			go c.refresh(d, label)
		}
		kept := maps.Clone(c.byProject)
		c.mu.Unlock()
		return kept, nil
	}
	c.mu.Unlock()
	u, err := d.Usage(ctx, label)
	if err == nil {
		c.keep(label, u)
	}
	return u, err
}

// refresh measures in the background, bounded by the measurement's own time limit: the
// call that started it has long answered.
func (c *usageCache) refresh(d core.Docker, label string) {
	u, err := d.Usage(context.Background(), label)
	c.mu.Lock()
	c.refreshing = false
	c.mu.Unlock()
	if err == nil {
		c.keep(label, u)
	}
}

func (c *usageCache) keep(label string, u map[string]stats.Usage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.label, c.at, c.byProject = label, time.Now(), maps.Clone(u)
}

// cachedUsage is Docker whose Usage comes from the server's cache; only the read-only
// tools get it (up's memory check measures afresh).
type cachedUsage struct {
	core.Docker
	cache *usageCache
}

func (d cachedUsage) Usage(ctx context.Context, label string) (map[string]stats.Usage, error) {
	return d.cache.get(ctx, d.Docker, label)
}
