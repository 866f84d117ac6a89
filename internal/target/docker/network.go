package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

// EnsureNetwork implements target.Networker: it creates the bridge network n.Name, labelled
// with n.Stack, on n.Subnet when that is valid (else on a free /24, see freeSubnet), unless a network of
// that name exists, and returns the network as the engine has it. Calls for one name are
// serialized, so that concurrent calls create one network. A network of that name that
// harness did not create is used as it is.
func (t *Target) EnsureNetwork(ctx context.Context, n target.Network) (target.Network, error) {
	got, err := t.ensureNetwork(ctx, n)
	if err != nil {
		return target.Network{}, fmt.Errorf("network %s: %w", n.Name, err)
	}
	return got, nil
}

func (t *Target) ensureNetwork(ctx context.Context, n target.Network) (target.Network, error) {
	if n.Name == "" {
		return target.Network{}, fmt.Errorf("no name: %w", target.ErrInvalidSpec)
	}
	unlock := t.networks.lock(n.Name)
	defer unlock()
	id, err := t.networkID(ctx, n.Name)
	if err != nil {
		return target.Network{}, err
	}
	if id == "" {
		if id, err = t.createNetwork(ctx, n); err != nil {
			return target.Network{}, fmt.Errorf("create: %w", err)
		}
	}
	res, err := t.api.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if err != nil {
		return target.Network{}, fmt.Errorf("inspect: %w", err)
	}
	return networkOf(res.Network.Network), nil
}

// createNetwork creates the bridge network n and returns its ID. The engine gives a container
// the address its spec asks for only on a subnet that was configured when the network was
// created: without n.Subnet, the network gets a free one (freeSubnet).
func (t *Target) createNetwork(ctx context.Context, n target.Network) (string, error) {
	labels := map[string]string{LabelStack: n.Stack}
	subnet := n.Subnet.Masked()
	if !n.Subnet.IsValid() {
		// Two networks of this Target never pick the same free subnet; the engine's other
		// clients may, and then this one picks again.
		t.subnets.Lock()
		defer t.subnets.Unlock()
	}
	for attempt := 0; ; attempt++ {
		if !n.Subnet.IsValid() {
			free, err := t.freeSubnet(ctx)
			if err != nil {
				return "", err
			}
			subnet = free
		}
		opts := client.NetworkCreateOptions{Driver: "bridge", Labels: labels,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}}}
		created, err := t.api.NetworkCreate(ctx, n.Name, opts)
		// Another client's network may take the free subnet in between, and be listed only
		// once its creation ends: wait a little, choose again.
		if err != nil && !n.Subnet.IsValid() && attempt < 8 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 25 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return "", specErr(err)
		}
		return created.ID, nil
	}
}

// networkID returns the ID of the network called name, or "" when there is none. The
// engine's name filter matches parts of names: the match is made here.
func (t *Target) networkID(ctx context.Context, name string) (string, error) {
	list, err := t.api.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return "", fmt.Errorf("list: %w", err)
	}
	for _, nw := range list.Items {
		if nw.Name == name {
			return nw.ID, nil
		}
	}
	return "", nil
}

// networkOf reads a network as target.Network: its first IPv4 subnet, and that subnet's
// gateway, which is the subnet's first address when the engine reports none.
func networkOf(nw network.Network) target.Network {
	got := target.Network{Name: nw.Name, Stack: nw.Labels[LabelStack]}
	for _, c := range nw.IPAM.Config {
		if !c.Subnet.IsValid() || !c.Subnet.Addr().Is4() {
			continue
		}
		got.Subnet, got.Gateway = c.Subnet, c.Gateway
		if !got.Gateway.IsValid() {
			got.Gateway = c.Subnet.Masked().Addr().Next()
		}
		break
	}
	return got
}

// RemoveStack implements target.Networker: it removes the networks labelled with stack, and
// with volumes the named volumes labelled with it. A network that containers still use, or a
// volume that one still mounts, is left alone, without an error.
func (t *Target) RemoveStack(ctx context.Context, stack string, volumes bool) error {
	if stack == "" {
		return fmt.Errorf("remove stack: no stack name: %w", target.ErrInvalidSpec)
	}
	byStack := client.Filters{}.Add("label", LabelStack+"="+stack)
	var errs []error
	nets, err := t.api.NetworkList(ctx, client.NetworkListOptions{Filters: byStack})
	if err != nil {
		return fmt.Errorf("remove stack %s: list networks: %w", stack, err)
	}
	for _, nw := range nets.Items {
		_, err := t.api.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
		if err != nil && !inUse(err) && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("network %s: %w", nw.Name, err))
		}
	}
	if volumes {
		vols, err := t.api.VolumeList(ctx, client.VolumeListOptions{Filters: byStack})
		if err != nil {
			errs = append(errs, fmt.Errorf("list volumes: %w", err))
		}
		for _, v := range vols.Items {
			_, err := t.api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{})
			if err != nil && !inUse(err) && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("volume %s: %w", v.Name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove stack %s: %w", stack, err)
	}
	return nil
}

// inUse reports whether the engine refused a removal because the object is in use: a network
// with active endpoints (403), a volume that a container mounts (409).
func inUse(err error) bool {
	return cerrdefs.IsPermissionDenied(err) || cerrdefs.IsConflict(err)
}
