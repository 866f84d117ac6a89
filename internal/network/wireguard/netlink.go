package wireguard

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// The rtnetlink requests an interface's bring-up and removal need, made directly rather than
// through ip(8): nothing to install on a node, and no process per request (two of them were
// ≈100 ms of a loaded 10-node bring-up).

// linkUp sets the link of interface index up.
func linkUp(index int) error {
	return rtnetlink(unix.RTM_NEWLINK, 0, ifInfo(index, unix.IFF_UP, unix.IFF_UP))
}

// linkDelete deletes the link of interface index.
func linkDelete(index int) error {
	return rtnetlink(unix.RTM_DELLINK, 0, ifInfo(index, 0, 0))
}

// addrAdd gives interface index the address a (with its prefix length).
func addrAdd(index int, a netip.Prefix) error {
	return rtnetlink(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ifAddr(index, a))
}

// addrDelete takes the address a off interface index.
func addrDelete(index int, a netip.Prefix) error {
	return rtnetlink(unix.RTM_DELADDR, 0, ifAddr(index, a))
}

// ifInfo is a struct ifinfomsg for index: flags, and change, the mask of flags to change.
func ifInfo(index int, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg) // family AF_UNSPEC, type 0
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

// ifAddr is a struct ifaddrmsg for a on index, with IFA_LOCAL and IFA_ADDRESS (which are the
// same on an interface that is not point-to-point to a known peer).
func ifAddr(index int, a netip.Prefix) []byte {
	family := unix.AF_INET
	if a.Addr().Is6() {
		family = unix.AF_INET6
	}
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0], b[1] = byte(family), byte(a.Bits())
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	ip := a.Addr().AsSlice()
	for _, typ := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		b = appendAttr(b, typ, ip)
	}
	return b
}

// appendAttr appends a struct rtattr of type typ holding data, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	n := unix.SizeofRtAttr + len(data)
	b = binary.NativeEndian.AppendUint16(b, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// rtnetlink sends one request of type typ (with flags besides NLM_F_REQUEST and NLM_F_ACK)
// and body to the kernel, in this process's network namespace, and returns its answer as an
// error: nil when the kernel acknowledged it.
func rtnetlink(typ, flags uint16, body []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("rtnetlink: %w", err)
	}
	defer unix.Close(fd)
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence number; the port id is the kernel's to fill
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, kernel); err != nil {
		return fmt.Errorf("rtnetlink: send: %w", err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("rtnetlink: receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("rtnetlink: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return syscall.Errno(-errno)
			}
			return nil
		}
	}
}
