package agent

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/graph-network-harness/harness/internal/network/wireguard"
)

// wireguardRequest names an interface of the node (key, show, down) or says what it must be
// (up).
type wireguardRequest struct {
	Name      string              `json:"name,omitempty"`
	Interface wireguard.Interface `json:"interface,omitzero"`
}

// wireguardKey is the public key of an interface's device; the private one stays on the node.
type wireguardKey struct {
	PublicKey wireguard.Key `json:"public_key"`
}

// wireguardRoutes serves the node's mesh interfaces: wireguard-key (the public key, the
// private one created when missing), wireguard-up, wireguard-show and wireguard-down.
func (s *server) wireguardRoutes(mux *http.ServeMux) {
	op := func(name string, fn func(context.Context, wireguardRequest) (any, error)) {
		mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
			var req wireguardRequest
			if !s.decode(w, r, &req) {
				return
			}
			resp, err := fn(r.Context(), req)
			s.reply(w, resp, err)
		})
	}
	op("wireguard-key", func(_ context.Context, req wireguardRequest) (any, error) {
		k, err := wireguard.PublicKey(s.keyFile(req.Name))
		return wireguardKey{k}, err
	})
	op("wireguard-up", func(ctx context.Context, req wireguardRequest) (any, error) {
		ifc := req.Interface
		k, err := wireguard.Up(ctx, ifc, s.keyFile(ifc.Name), func(context.Context) error { return s.spawnDevice(ifc.Name) })
		if err == nil {
			s.log.Info("wireguard interface up", "interface", ifc.Name, "address", ifc.Address, "peers", len(ifc.Peers))
		}
		return wireguardKey{k}, err
	})
	op("wireguard-show", func(ctx context.Context, req wireguardRequest) (any, error) {
		return wireguard.Show(ctx, req.Name)
	})
	op("wireguard-down", func(ctx context.Context, req wireguardRequest) (any, error) {
		removed, err := wireguard.Down(ctx, req.Name)
		if removed {
			s.log.Info("wireguard interface removed", "interface", req.Name)
		}
		return removed, err
	})
}

// keyFile is where the private key of interface name is kept: beside the agent's dir,
// ~/.harness/wireguard/NAME.key.
func (s *server) keyFile(name string) string {
	return filepath.Join(filepath.Dir(s.dir), "wireguard", filepath.Base(name)+".key")
}

// spawnDevice starts "EXECUTABLE agent wireguard NAME", the device process of interface
// name, in its own session, its output appended to DIR/wireguard-NAME.log: it outlives the
// agent. The agent reaps it if it ends first.
func (s *server) spawnDevice(name string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(s.dir, "wireguard-"+filepath.Base(name)+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(exe, "agent", "wireguard", name)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s agent wireguard %s: %w", exe, name, err)
	}
	go cmd.Wait()
	return nil
}
