package network

import (
	"fmt"
	"net"
	"net/netip"
)

// Interface is a network interface of a host, as read on that host.
type Interface struct {
	Name     string         `json:"name"`
	Up       bool           `json:"up"`
	Loopback bool           `json:"loopback,omitempty"`
	MTU      int            `json:"mtu"`
	Addrs    []netip.Prefix `json:"addrs"`
}

// Interfaces reads the interfaces of this host and their addresses.
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs))
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", i.Name, err)
		}
		x := Interface{Name: i.Name, Up: i.Flags&net.FlagUp != 0, Loopback: i.Flags&net.FlagLoopback != 0, MTU: i.MTU, Addrs: []netip.Prefix{}}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ip, _ := netip.AddrFromSlice(n.IP)
				ones, _ := n.Mask.Size()
				x.Addrs = append(x.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
			}
		}
		out = append(out, x)
	}
	return out, nil
}

// Holds reports whether one of ifs has the address addr.
func Holds(ifs []Interface, addr netip.Addr) bool {
	for _, i := range ifs {
		for _, p := range i.Addrs {
			if p.Addr() == addr {
				return true
			}
		}
	}
	return false
}
