package network_test

import (
	"net/netip"
	"testing"

	"github.com/graph-network-harness/harness/internal/network"
)

// This host has a loopback interface that holds 127.0.0.1, and up.
func TestInterfaces(t *testing.T) {
	ifs, err := network.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if !network.Holds(ifs, netip.MustParseAddr("127.0.0.1")) {
		t.Fatalf("no interface holds 127.0.0.1: %+v", ifs)
	}
	for _, i := range ifs {
		if i.Loopback && (!i.Up || i.MTU == 0) {
			t.Errorf("loopback %+v: want up, with an MTU", i)
		}
	}
	if network.Holds(ifs, netip.MustParseAddr("2001:db8::dead:beef")) {
		t.Error("an interface holds 2001:db8::dead:beef (documentation prefix)")
	}
}
