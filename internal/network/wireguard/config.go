package wireguard

import (
	"encoding/hex"
	"encoding/json"
	"errors"
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

// uapi writes, in the UAPI form of wireguard-go ("set" operation), what turns a device that
// has cur into one that has c: the key and the port when they differ (a new port rebinds the
// sockets), the peers c has (their endpoint, keepalive and allowed IPs replaced, their
// sessions kept), and the removal of the peers that c lacks.
func (c Config) uapi(cur Status) string {
	var b strings.Builder
	if cur.PublicKey != c.PrivateKey.PublicKey() {
		fmt.Fprintf(&b, "private_key=%s\n", hex.EncodeToString(c.PrivateKey[:]))
	}
	if cur.ListenPort != c.ListenPort {
		fmt.Fprintf(&b, "listen_port=%d\n", c.ListenPort)
	}
	keep := map[Key]bool{}
	for _, p := range c.Peers {
		keep[p.PublicKey] = true
		fmt.Fprintf(&b, "public_key=%s\n", hex.EncodeToString(p.PublicKey[:]))
		if p.Endpoint.IsValid() {
			fmt.Fprintf(&b, "endpoint=%s\n", p.Endpoint)
		}
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\nreplace_allowed_ips=true\n", int(p.Keepalive/time.Second))
		for _, a := range p.AllowedIPs {
			fmt.Fprintf(&b, "allowed_ip=%s\n", a)
		}
	}
	for _, p := range cur.Peers {
		if !keep[p.PublicKey] {
			fmt.Fprintf(&b, "public_key=%s\nremove=true\n", hex.EncodeToString(p.PublicKey[:]))
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

// Status is what a device has now: its public key (zero when it has no key yet), its port and
// what it knows of each peer. It holds no private key.
type Status struct {
	PublicKey  Key
	ListenPort int
	Peers      []PeerStats
}

// PeerStats is what a device knows of a peer now.
type PeerStats struct {
	PublicKey     Key
	Endpoint      string
	AllowedIPs    []netip.Prefix
	LastHandshake time.Time // zero: none yet
	RxBytes       int64
	TxBytes       int64
}

// parseStatus reads a UAPI "get" answer. The private key it holds is turned into the public
// key at once and kept nowhere.
func parseStatus(uapi string) (Status, error) {
	var st Status
	var sec, nsec int64
	flush := func() {
		if len(st.Peers) > 0 && sec > 0 {
			st.Peers[len(st.Peers)-1].LastHandshake = time.Unix(sec, nsec)
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
		case "errno":
			if v != "0" {
				err = fmt.Errorf("the device answers errno %s", v)
			}
		case "private_key":
			var priv Key
			if priv, err = parseHexKey(v); err == nil {
				st.PublicKey = priv.PublicKey()
			} else {
				err = errors.New("not a key") // never the value
			}
		case "listen_port":
			st.ListenPort, err = strconv.Atoi(v)
		case "public_key":
			flush()
			var pub Key
			if pub, err = parseHexKey(v); err == nil {
				st.Peers = append(st.Peers, PeerStats{PublicKey: pub})
			}
		case "endpoint", "allowed_ip", "last_handshake_time_sec", "last_handshake_time_nsec", "rx_bytes", "tx_bytes":
			if len(st.Peers) == 0 {
				return Status{}, fmt.Errorf("uapi: %s before any peer", k)
			}
			p := &st.Peers[len(st.Peers)-1]
			switch k {
			case "endpoint":
				p.Endpoint = v
			case "allowed_ip":
				var a netip.Prefix
				if a, err = netip.ParsePrefix(v); err == nil {
					p.AllowedIPs = append(p.AllowedIPs, a)
				}
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
			return Status{}, fmt.Errorf("uapi: %s: %w", k, err)
		}
	}
	flush()
	return st, nil
}

// parseHexKey reads a key in UAPI's hex form.
func parseHexKey(v string) (Key, error) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != len(Key{}) {
		return Key{}, fmt.Errorf("want 32 bytes in hex")
	}
	return Key(b), nil
}
