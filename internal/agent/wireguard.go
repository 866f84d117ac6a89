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
	Rotate    bool                `json:"rotate,omitempty"` // wireguard-key: a new key
	Interface wireguard.Interface `json:"interface,omitzero"`
}

// wireguardUp is what wireguard-up did: whether it started the device, and what failed after
// that (the device then stays, for the controller to remove).
type wireguardUp struct {
	Started bool   `json:"started"`
	Error   string `json:"error,omitempty"`
}

// wireguardKey is the public key of an interface's device; the private one stays on the node.
type wireguardKey struct {
	PublicKey wireguard.Key `json:"public_key"`
}

// wireguardRoutes serves the node's mesh interfaces (wireguard.Local): wireguard-key (the
// public key, the private one created when missing in ~/.harness/wireguard), wireguard-up,
// wireguard-show and wireguard-down.
func (s *server) wireguardRoutes(mux *http.ServeMux) {
	local := wireguard.Local{KeyDir: filepath.Join(filepath.Dir(s.dir), "wireguard"), Spawn: s.spawnDevice}
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
	op("wireguard-key", func(ctx context.Context, req wireguardRequest) (any, error) {
		k, err := local.WireguardKey(ctx, req.Name, req.Rotate)
		if err == nil && req.Rotate {
			s.log.Info("wireguard key rotated", "interface", req.Name, "public_key", k)
		}
		return wireguardKey{k}, err
	})
	op("wireguard-up", func(ctx context.Context, req wireguardRequest) (any, error) {
		started, err := local.WireguardUp(ctx, req.Interface)
		if err != nil && !started {
			return nil, err
		}
		resp := wireguardUp{Started: started}
		if err != nil {
			resp.Error = err.Error()
		} else {
			s.log.Info("wireguard interface up", "interface", req.Interface.Name, "address", req.Interface.Address, "peers", len(req.Interface.Peers), "started", started)
		}
		return resp, nil
	})
	op("wireguard-show", func(ctx context.Context, req wireguardRequest) (any, error) {
		return local.WireguardShow(ctx, req.Name)
	})
	op("wireguard-down", func(ctx context.Context, req wireguardRequest) (any, error) {
		removed, err := local.WireguardDown(ctx, req.Name)
		if removed {
			s.log.Info("wireguard interface removed", "interface", req.Name)
		}
		return removed, err
	})
}

// LocalMesh is this host as a mesh member for a controller (the daemon, an embedding
// Manager): its keys in DIR/wireguard, its devices run by exe (a harness binary), their
// output in DIR/wireguard-NAME.log.
func LocalMesh(exe, dir string) wireguard.Local {
	return wireguard.Local{
		KeyDir: filepath.Join(dir, "wireguard"),
		Spawn:  func(_ context.Context, name string) error { return SpawnDevice(exe, dir, name) },
	}
}

// SpawnDevice starts "EXE agent wireguard NAME" (exe: a harness binary), the device process
// of interface name, in its own session, its output appended to DIR/wireguard-NAME.log: it
// outlives the process that started it, which reaps it if it ends first.
func SpawnDevice(exe, dir, name string) error {
	log, err := os.OpenFile(filepath.Join(dir, "wireguard-"+filepath.Base(name)+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
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

func (s *server) spawnDevice(_ context.Context, name string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return SpawnDevice(exe, s.dir, name)
}
