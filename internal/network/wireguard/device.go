package wireguard

import (
	"fmt"
	"log/slog"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// Device is a userspace WireGuard device (wireguard-go) on a TUN device.
type Device struct {
	mu  sync.Mutex
	dev *device.Device
}

// Start runs a device on t (which it owns from now on: Close closes it) with cfg, and brings it
// up. Its messages go to log at debug level (errors at warn).
func Start(t tun.Device, cfg Config, log *slog.Logger) (*Device, error) {
	d := &Device{dev: device.NewDevice(t, conn.NewDefaultBind(), deviceLogger(log))}
	if err := d.Configure(cfg); err != nil {
		d.dev.Close()
		return nil, err
	}
	if err := d.dev.Up(); err != nil {
		d.dev.Close()
		return nil, fmt.Errorf("wireguard: up: %w", err)
	}
	return d, nil
}

// Configure makes the device's configuration cfg: its peers are those of cfg, with the
// sessions of the peers it already had kept.
func (d *Device) Configure(cfg Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.dev.IpcGet()
	if err != nil {
		return fmt.Errorf("wireguard: configure: %w", err)
	}
	cur, err := parseStatus(s)
	if err != nil {
		return fmt.Errorf("wireguard: configure: %w", err)
	}
	if err := d.dev.IpcSet(cfg.uapi(cur)); err != nil {
		return fmt.Errorf("wireguard: configure: %w", err)
	}
	return nil
}

// Stats returns the port the device listens on and what it knows of each peer.
func (d *Device) Stats() (port int, peers []PeerStats, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.dev.IpcGet()
	if err != nil {
		return 0, nil, fmt.Errorf("wireguard: stats: %w", err)
	}
	st, err := parseStatus(s)
	return st.ListenPort, st.Peers, err
}

// Close takes the device down and closes its TUN.
func (d *Device) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dev.Close()
}
