package docker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// subnetPools are where a stack network without a configured subnet gets one: /24s of the
// private ranges the engine's default pools use, in order.
var subnetPools = []netip.Prefix{
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// freeSubnet returns the first /24 of subnetPools that overlaps no network of the engine and,
// when the engine runs on this host (a unix socket), no route of this host. The engine would
// choose a subnet itself, but then refuses the static addresses that containers ask for; and
// letting it choose, then recreating the network on its choice, costs two network changes
// more (≈0.3 s).
func (t *Target) freeSubnet(ctx context.Context) (netip.Prefix, error) {
	list, err := t.api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list networks: %w", err)
	}
	var taken []netip.Prefix
	for _, nw := range list.Items {
		for _, c := range nw.IPAM.Config {
			if c.Subnet.IsValid() {
				taken = append(taken, c.Subnet)
			}
		}
	}
	if strings.HasPrefix(t.opts.Host, "unix://") {
		routes, err := hostRoutes()
		if err != nil {
			return netip.Prefix{}, err
		}
		taken = append(taken, routes...)
	}
	return firstFree(subnetPools, 24, taken)
}

// firstFree returns the first prefix of length bits inside pools that overlaps none of taken.
func firstFree(pools []netip.Prefix, bits int, taken []netip.Prefix) (netip.Prefix, error) {
	for _, pool := range pools {
		size := uint32(1) << (32 - bits)
		base := binary.BigEndian.Uint32(pool.Masked().Addr().AsSlice())
		for i := uint32(0); i < 1<<(bits-pool.Bits()); i++ {
			cand := netip.PrefixFrom(netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, base+i*size))), bits)
			if !overlapsAny(cand, taken) {
				return cand, nil
			}
		}
	}
	return netip.Prefix{}, errors.New("no free /24 left in 172.16.0.0/12 and 192.168.0.0/16: set networks.local.container_subnet")
}

func overlapsAny(p netip.Prefix, taken []netip.Prefix) bool {
	for _, q := range taken {
		if p.Overlaps(q) {
			return true
		}
	}
	return false
}

// hostRoutes returns the destinations of this host's IPv4 routes, but the default route.
func hostRoutes() ([]netip.Prefix, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil, fmt.Errorf("routes of this host: %w", err)
	}
	defer f.Close()
	routes, err := parseRoutes(f)
	if err != nil {
		return nil, fmt.Errorf("routes of this host: %w", err)
	}
	return routes, nil
}

// parseRoutes reads the format of /proc/net/route: a header line, then one route per line
// with the destination and the mask in the second and eighth fields, each a 32-bit number in
// hexadecimal whose bytes in host order (little-endian here) are the address in network order.
func parseRoutes(r io.Reader) ([]netip.Prefix, error) {
	var routes []netip.Prefix
	sc := bufio.NewScanner(r)
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		mask, err2 := strconv.ParseUint(f[7], 16, 32)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("malformed route %q", sc.Text())
		}
		ones := bits.OnesCount32(uint32(mask))
		if ones == 0 {
			continue // the default route
		}
		addr := netip.AddrFrom4([4]byte(binary.LittleEndian.AppendUint32(nil, uint32(dst))))
		routes = append(routes, netip.PrefixFrom(addr, ones).Masked())
	}
	return routes, sc.Err()
}
