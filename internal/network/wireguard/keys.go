package wireguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Key is a WireGuard key (Curve25519). Its String is the base64 form: never print a private one.
type Key = wgtypes.Key

// LoadOrCreateKey returns the private key kept in file, creating one (mode 0600, its directory
// 0700) when there is none. A key file that its group or others can read is refused.
func LoadOrCreateKey(file string) (Key, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(file)
	}
	if err != nil {
		return Key{}, fmt.Errorf("wireguard key: %w", err)
	}
	info, err := os.Stat(file)
	if err != nil {
		return Key{}, fmt.Errorf("wireguard key: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return Key{}, fmt.Errorf("wireguard key %s: mode %04o lets others read it: want 0600", file, perm)
	}
	k, err := wgtypes.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return Key{}, fmt.Errorf("wireguard key %s: not a key", file)
	}
	return k, nil
}

// RotateKey replaces the private key in file with a new one (as LoadOrCreateKey creates it)
// and returns it.
func RotateKey(file string) (Key, error) { return createKey(file) }

// createKey makes a new private key in file: written to a temporary file created 0600,
// synced, and renamed into place.
func createKey(file string) (Key, error) {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return Key{}, fmt.Errorf("wireguard key: %w", err)
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Key{}, fmt.Errorf("wireguard key: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return Key{}, fmt.Errorf("wireguard key: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename: nothing
	_, err = f.WriteString(k.String() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		return Key{}, fmt.Errorf("wireguard key: %w", err)
	}
	return k, nil
}
