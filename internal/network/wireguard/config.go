package wireguard

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of a device: its private key, the UDP port it listens on
// (0: any), and its peers.
type Config struct {
	PrivateKey Key
	ListenPort int
	Peers      []Peer
}

// Peer is another device of the mesh.
type Peer struct {
	PublicKey Key
	// Endpoint is where the peer listens; zero when it is not known (the peer reaches this
	// device first).
	Endpoint netip.AddrPort
	// AllowedIPs are the addresses routed to the peer, and accepted from it.
	AllowedIPs []netip.Prefix
	// Keepalive is the persistent keepalive interval; 0: none.
	Keepalive time.Duration
}

// uapi writes c in the UAPI form of wireguard-go ("set" operation): the private key, the
// port, and the peers, replacing those the device has.
func (c Config) uapi() string {
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%s\nlisten_port=%d\nreplace_peers=true\n", hex.EncodeToString(c.PrivateKey[:]), c.ListenPort)
	for _, p := range c.Peers {
		fmt.Fprintf(&b, "public_key=%s\n", hex.EncodeToString(p.PublicKey[:]))
		if p.Endpoint.IsValid() {
			fmt.Fprintf(&b, "endpoint=%s\n", p.Endpoint)
		}
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\nreplace_allowed_ips=true\n", int(p.Keepalive/time.Second))
		for _, a := range p.AllowedIPs {
			fmt.Fprintf(&b, "allowed_ip=%s\n", a)
		}
	}
	return b.String()
}

// String describes c without its private key: its public key, port and peers.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "public_key=%s listen_port=%d", c.PrivateKey.PublicKey(), c.ListenPort)
	for _, p := range c.Peers {
		fmt.Fprintf(&b, " peer{%s endpoint=%s allowed_ips=%v keepalive=%s}", p.PublicKey, p.Endpoint, p.AllowedIPs, p.Keepalive)
	}
	return b.String()
}

// MarshalJSON writes c without its private key.
func (c Config) MarshalJSON() ([]byte, error) {
	type peer struct {
		PublicKey  string         `json:"public_key"`
		Endpoint   string         `json:"endpoint,omitempty"`
		AllowedIPs []netip.Prefix `json:"allowed_ips"`
		Keepalive  string         `json:"keepalive,omitempty"`
	}
	out := struct {
		PublicKey  string `json:"public_key"`
		ListenPort int    `json:"listen_port"`
		Peers      []peer `json:"peers"`
	}{PublicKey: c.PrivateKey.PublicKey().String(), ListenPort: c.ListenPort, Peers: []peer{}}
	for _, p := range c.Peers {
		x := peer{PublicKey: p.PublicKey.String(), AllowedIPs: p.AllowedIPs}
		if p.Endpoint.IsValid() {
			x.Endpoint = p.Endpoint.String()
		}
		if p.Keepalive > 0 {
			x.Keepalive = p.Keepalive.String()
		}
		out.Peers = append(out.Peers, x)
	}
	return json.Marshal(out)
}

// PeerStats is what a device knows of a peer now.
type PeerStats struct {
	PublicKey     Key
	Endpoint      string
	LastHandshake time.Time // zero: none yet
	RxBytes       int64
	TxBytes       int64
}

// parseStats reads the peers of a UAPI "get" answer.
func parseStats(uapi string) ([]PeerStats, int, error) {
	var out []PeerStats
	port := 0
	var sec, nsec int64
	flush := func() {
		if len(out) > 0 && sec > 0 {
			out[len(out)-1].LastHandshake = time.Unix(sec, nsec)
		}
		sec, nsec = 0, 0
	}
	for line := range strings.Lines(uapi) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "listen_port":
			port, err = strconv.Atoi(v)
		case "public_key":
			flush()
			var b []byte
			if b, err = hex.DecodeString(v); err == nil && len(b) == len(Key{}) {
				out = append(out, PeerStats{PublicKey: Key(b)})
			} else if err == nil {
				err = fmt.Errorf("public_key %q: want 32 bytes", v)
			}
		case "endpoint", "last_handshake_time_sec", "last_handshake_time_nsec", "rx_bytes", "tx_bytes":
			if len(out) == 0 {
				return nil, 0, fmt.Errorf("uapi: %s before any peer", k)
			}
			p := &out[len(out)-1]
			switch k {
			case "endpoint":
				p.Endpoint = v
			case "last_handshake_time_sec":
				sec, err = strconv.ParseInt(v, 10, 64)
			case "last_handshake_time_nsec":
				nsec, err = strconv.ParseInt(v, 10, 64)
			case "rx_bytes":
				p.RxBytes, err = strconv.ParseInt(v, 10, 64)
			case "tx_bytes":
				p.TxBytes, err = strconv.ParseInt(v, 10, 64)
			}
		}
		if err != nil {
			return nil, 0, fmt.Errorf("uapi: %s: %w", k, err)
		}
	}
	flush()
	return out, port, nil
}
