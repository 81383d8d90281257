// Package addrpool counts how many more networks a Docker engine can make from the
// address pools it carves them from. Every compose project makes at least one network,
// and an engine with the default pools has room for 31 in all: past that, up fails with
// "could not find an available, non-overlapping IPv4 address pool" however much memory
// is free. A Swarm carves its overlay networks from a pool of its own.
package addrpool

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// Pool is a range networks are carved from, each of prefix length Size.
type Pool struct {
	Base netip.Prefix
	Size int
}

// Defaults are an engine's local pools when its daemon.json sets none (Docker's own
// list: 172.17-19 and 172.20-31 in /16s, 192.168 in /20s).
var Defaults = []Pool{
	{netip.MustParsePrefix("172.17.0.0/16"), 16},
	{netip.MustParsePrefix("172.18.0.0/16"), 16},
	{netip.MustParsePrefix("172.19.0.0/16"), 16},
	{netip.MustParsePrefix("172.20.0.0/14"), 16},
	{netip.MustParsePrefix("172.24.0.0/14"), 16},
	{netip.MustParsePrefix("172.28.0.0/14"), 16},
	{netip.MustParsePrefix("192.168.0.0/16"), 20},
}

// ParseDefaultPools reads docker info's DefaultAddressPools ({{json .DefaultAddressPools}}):
// null or empty means Defaults.
func ParseDefaultPools(infoJSON string) ([]Pool, error) {
	var given []struct {
		Base string
		Size int
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(infoJSON)), &given); err != nil {
		return nil, fmt.Errorf("read the engine's address pools: %w", err)
	}
	if len(given) == 0 {
		return Defaults, nil
	}
	pools := make([]Pool, 0, len(given))
	for _, g := range given {
		base, err := netip.ParsePrefix(g.Base)
		if err != nil {
			return nil, fmt.Errorf("address pool %q: %w", g.Base, err)
		}
		pools = append(pools, Pool{base.Masked(), g.Size})
	}
	return pools, nil
}

// SwarmPools are a Swarm's overlay pools (docker info's Swarm.Cluster.DefaultAddrPool
// and SubnetSize).
func SwarmPools(bases []string, size int) ([]Pool, error) {
	var pools []Pool
	for _, b := range bases {
		base, err := netip.ParsePrefix(b)
		if err != nil {
			return nil, fmt.Errorf("address pool %q: %w", b, err)
		}
		pools = append(pools, Pool{base.Masked(), size})
	}
	return pools, nil
}

// ParseSubnets reads the subnets networks hold, separated by blanks; anything that is
// not an IPv4 prefix is skipped (IPv6 pools are not what runs out).
func ParseSubnets(s string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Fields(s) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Room is how many networks the pools can still give and how many they hold in all,
// with used the subnets existing networks hold: a slot of a pool is taken when any of
// them overlaps it.
func Room(pools []Pool, used []netip.Prefix) (free, total int) {
	for _, p := range pools {
		if !p.Base.Addr().Is4() || p.Size < p.Base.Bits() || p.Size > 32 {
			continue
		}
		slots := 1 << (p.Size - p.Base.Bits())
		taken := map[uint32]bool{}
		base := v4(p.Base.Addr())
		for _, u := range used {
			if !u.Overlaps(p.Base) {
				continue
			}
			if u.Bits() <= p.Base.Bits() { // covers the whole pool
				for i := 0; i < slots; i++ {
					taken[uint32(i)] = true
				}
				continue
			}
			first := (v4(u.Addr()) - base) >> (32 - p.Size)
			span := uint32(1)
			if u.Bits() < p.Size {
				span = 1 << (p.Size - u.Bits())
			}
			for i := uint32(0); i < span; i++ {
				taken[first+i] = true
			}
		}
		total += slots
		free += slots - len(taken)
	}
	return free, total
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// NetworkSubnets asks docker, through run (the docker command line with its arguments),
// for the subnets held by the networks `docker network ls` lists with lsArgs (filters).
func NetworkSubnets(run func(args ...string) (string, error), lsArgs ...string) ([]netip.Prefix, error) {
	ids, err := run(append([]string{"network", "ls", "--quiet"}, lsArgs...)...)
	if err != nil || strings.TrimSpace(ids) == "" {
		return nil, err
	}
	subnets, err := run(append([]string{"network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, strings.Fields(ids)...)...)
	if err != nil {
		return nil, err
	}
	return ParseSubnets(subnets), nil
}
