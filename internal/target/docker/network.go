package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

// EnsureNetwork implements target.Networker: it creates the bridge network n.Name, labelled
// with n.Stack, on n.Subnet when that is valid (else the engine chooses), unless a network of
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
// created: without n.Subnet, the engine picks a free subnet for a first network, which is
// then removed and created anew on that subnet.
func (t *Target) createNetwork(ctx context.Context, n target.Network) (string, error) {
	labels := map[string]string{LabelStack: n.Stack}
	subnet := n.Subnet.Masked()
	for attempt := 0; ; attempt++ {
		if !n.Subnet.IsValid() {
			chosen, err := t.engineSubnet(ctx, n.Name, labels)
			if err != nil {
				return "", err
			}
			subnet = chosen
		}
		opts := client.NetworkCreateOptions{Driver: "bridge", Labels: labels,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}}}
		created, err := t.api.NetworkCreate(ctx, n.Name, opts)
		// Another network may take the chosen subnet in between: choose again.
		if err != nil && !n.Subnet.IsValid() && attempt < 3 {
			continue
		}
		if err != nil {
			return "", specErr(err)
		}
		return created.ID, nil
	}
}

// engineSubnet creates the network name where the engine chooses, and removes it again, and
// returns the subnet the engine chose.
func (t *Target) engineSubnet(ctx context.Context, name string, labels map[string]string) (netip.Prefix, error) {
	created, err := t.api.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
	if err != nil {
		return netip.Prefix{}, specErr(err)
	}
	res, err := t.api.NetworkInspect(ctx, created.ID, client.NetworkInspectOptions{})
	if _, rerr := t.api.NetworkRemove(ctx, created.ID, client.NetworkRemoveOptions{}); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return netip.Prefix{}, err
	}
	subnet := networkOf(res.Network.Network).Subnet
	if !subnet.IsValid() {
		return netip.Prefix{}, fmt.Errorf("the engine chose no IPv4 subnet")
	}
	return subnet, nil
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
