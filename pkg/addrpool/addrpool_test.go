package addrpool

import (
	"net/netip"
	"strings"
	"testing"
)

func TestTheDefaultPoolsHoldThirtyOneNetworks(t *testing.T) {
	pools, err := ParseDefaultPools("null\n")
	if err != nil {
		t.Fatal(err)
	}
	// the default bridge holds 172.17.0.0/16; two compose networks took 172.18 and a /20
	// of 192.168; a network outside the pools (a user's 10.1.0.0/24) takes nothing
	used := ParseSubnets("172.17.0.0/16 172.18.0.0/16 192.168.16.0/20 10.1.0.0/24 fd00::/64")
	if free, total := Room(pools, used); free != 28 || total != 31 {
		t.Errorf("Room = %d free of %d, want 28 of 31", free, total)
	}
}

func TestConfiguredPoolsAndSubnetsThatSpanSeveralSlots(t *testing.T) {
	pools, err := ParseDefaultPools(`[{"Base":"10.222.0.0/16","Size":24}]`)
	if err != nil || len(pools) != 1 {
		t.Fatalf("pools %v, %v", pools, err)
	}
	// a /23 takes two /24 slots; two networks in one slot count once; a /8 around a pool
	// takes all of it
	used := []netip.Prefix{netip.MustParsePrefix("10.222.4.0/23"), netip.MustParsePrefix("10.222.9.0/26"), netip.MustParsePrefix("10.222.9.128/26")}
	if free, total := Room(pools, used); free != 253 || total != 256 {
		t.Errorf("Room = %d of %d, want 253 of 256", free, total)
	}
	if free, _ := Room(pools, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); free != 0 {
		t.Errorf("a /8 over the pool left %d free", free)
	}
	swarm, err := SwarmPools([]string{"10.230.0.0/16"}, 24)
	if err != nil {
		t.Fatal(err)
	}
	if free, total := Room(swarm, ParseSubnets("10.230.0.0/24")); free != 255 || total != 256 {
		t.Errorf("Swarm pool: %d of %d", free, total)
	}
	if _, err := ParseDefaultPools(`[{"Base":"nonsense","Size":24}]`); err == nil {
		t.Error("a pool that is no prefix was accepted")
	}
}

func TestNetworkSubnetsAsksListThenInspect(t *testing.T) {
	var asked []string
	run := func(args ...string) (string, error) {
		asked = append(asked, strings.Join(args, " "))
		if args[1] == "ls" {
			return "n1\nn2\n", nil
		}
		return "10.0.1.0/24 \n172.18.0.0/16 fd00::/64 \n", nil
	}
	used, err := NetworkSubnets(run, "--filter", "driver=overlay")
	if err != nil || len(used) != 2 || used[1].String() != "172.18.0.0/16" {
		t.Errorf("NetworkSubnets = %v, %v", used, err)
	}
	if len(asked) != 2 || asked[0] != "network ls --quiet --filter driver=overlay" || !strings.HasSuffix(asked[1], "n1 n2") {
		t.Errorf("asked %q", asked)
	}
}
