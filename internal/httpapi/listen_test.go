package httpapi_test

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/httpapi"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

func TestListenMode(t *testing.T) {
	sock := filepath.Join(t.TempDir(), api.SocketName)
	ln, err := httpapi.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fs.ModeSocket|0o600, fi.Mode()); diff != "" {
		t.Errorf("socket mode (-want +got):\n%s", diff)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close: Lstat = %v, want the socket file removed", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), api.SocketName)
	// A socket file nobody accepts on, as a crashed daemon leaves it.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("the stale socket file is gone already: %v", err)
	}

	ln, err := httpapi.Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	conn.Close()
}

func TestListenRefusesLiveSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), api.SocketName)
	httpapitest.Serve(t, sock, &httpapitest.Backend{})

	ln, err := httpapi.Listen(sock)
	if err == nil {
		ln.Close()
		t.Fatal("Listen on a live socket succeeded")
	}
	if want := "a daemon already listens on " + sock; !strings.Contains(err.Error(), want) {
		t.Errorf("Listen on a live socket: %v; want it to say %q", err, want)
	}
	// The live daemon still answers.
	if got := do(t, socketClient(sock), "GET", api.PathDaemon, ""); got.Status != 200 {
		t.Errorf("the live daemon answers %+v after the refused Listen", got)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), api.SocketName)
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := httpapi.Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen over a regular file succeeded")
	}
	if want := path + " exists and is not a socket"; !strings.Contains(err.Error(), want) {
		t.Errorf("Listen over a regular file: %v; want it to say %q", err, want)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("the regular file was touched: %q, %v", b, err)
	}
}
