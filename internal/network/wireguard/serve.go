package wireguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
)

// MTU is the MTU of harness's interfaces: 1500 less the 80 bytes WireGuard adds over IPv6.
const MTU = 1420

// SocketPath is the UAPI socket of the device of interface name, where wg and Set find it.
func SocketPath(name string) string { return "/var/run/wireguard/" + name + ".sock" }

// Serve runs the userspace device of interface name until ctx ends or the interface is
// deleted (ip link delete): a TUN of that name, a wireguard-go device on it, and the UAPI
// socket SocketPath(name) through which it is configured (Set, Show, wg(8)). The device
// starts with no key and no peers, down; the interface has no address.
func Serve(ctx context.Context, name string, log *slog.Logger) error {
	t, err := tun.CreateTUN(name, MTU)
	if err != nil {
		return fmt.Errorf("wireguard %s: create TUN: %w", name, err)
	}
	dev := device.NewDevice(t, conn.NewDefaultBind(), deviceLogger(log))
	defer dev.Close()
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		return fmt.Errorf("wireguard %s: UAPI socket: %w", name, err)
	}
	l, err := ipc.UAPIListen(name, f)
	f.Close() // the listener has its own descriptor
	if err != nil {
		return fmt.Errorf("wireguard %s: UAPI socket: %w", name, err)
	}
	defer func() {
		l.Close()
		os.Remove(SocketPath(name)) // a listener from a file does not remove it
	}()
	accepted := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			go dev.IpcHandle(c)
		}
	}()
	log.Info("wireguard device up", "interface", name, "socket", SocketPath(name))
	select {
	case <-ctx.Done():
		log.Info("wireguard device stopped", "interface", name)
		return nil
	case <-dev.Wait(): // the TUN is gone
		log.Info("wireguard device closed: its interface is gone", "interface", name)
		return nil
	case err := <-accepted:
		if errors.Is(err, net.ErrClosed) {
			err = errors.New("socket removed")
		}
		return fmt.Errorf("wireguard %s: UAPI socket: %w", name, err)
	}
}

// deviceLogger sends wireguard-go's messages to log: at debug level, errors at warn, except
// those about a TUN that is gone, which every deletion of the interface (Down) causes.
func deviceLogger(log *slog.Logger) *device.Logger {
	return &device.Logger{
		Verbosef: func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) },
		Errorf: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			if strings.Contains(msg, "no such device") {
				log.Debug(msg)
				return
			}
			log.Warn(msg)
		},
	}
}
