package orchestrator_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/orchestrator"
)

// meshNetworks declares lan nodes a and b, wireguard nodes w1 and w2 (mesh), and w3 on another
// wireguard network (far).
const meshNetworks = `version: "1.0"
name: m
networks:
  lan:
    type: lan
    subnet: 10.1.0.0/24
    nodes:
      - {name: a, host: 10.1.0.2, ssh_user: root}
      - {name: b, host: 10.1.0.3, ssh_user: root}
  mesh:
    type: wireguard
    subnet: 10.42.0.0/24
    nodes:
      - {name: w1, host: 10.2.0.2, ssh_user: root}
      - {name: w2, host: 10.2.0.3, ssh_user: root}
  far:
    type: wireguard
    subnet: 10.43.0.0/24
    interface: wg-far
    nodes:
      - {name: w3, host: 10.3.0.2, ssh_user: root}
services:
`

// A mesh exists for a wireguard network only when a service crosses hosts to or from one of
// its nodes (a dependency or a reference), with exactly the hosts of those edges as members.
func TestMeshes(t *testing.T) {
	for _, tc := range []struct {
		name, services string
		want           map[string][]string // network → members
	}{{
		name: "no wireguard node in use",
		services: `
  x: {type: remote, host: a, binary: sleep, args: ["1"]}
  y: {type: remote, host: b, binary: sleep, args: ["${x.addr}"], dependencies: [x]}
  z: {type: process, binary: sleep, args: ["${y.addr}"]}
`,
		want: map[string][]string{},
	}, {
		name: "services of one wireguard node among themselves",
		services: `
  x: {type: remote, host: w1, binary: sleep, args: ["1"]}
  y: {type: remote, host: w1, binary: sleep, dependencies: [x]}
`,
		want: map[string][]string{},
	}, {
		name: "a lan node reaches a wireguard node by reference",
		services: `
  x: {type: remote, host: w1, binary: sleep, args: ["1"]}
  y: {type: remote, host: a, binary: sleep, args: ["${x.addr}"]}
  z: {type: remote, host: b, binary: sleep, args: ["1"]}
`,
		want: map[string][]string{"mesh": {"a", "w1"}},
	}, {
		name: "wireguard nodes and the controller by dependency",
		services: `
  x: {type: remote, host: w2, binary: sleep, args: ["1"]}
  y: {type: remote, host: w1, binary: sleep, dependencies: [x]}
  z: {type: process, binary: sleep, dependencies: [y]}
`,
		want: map[string][]string{"mesh": {"w1", "w2", "local"}},
	}, {
		name: "two wireguard networks",
		services: `
  x: {type: remote, host: w3, binary: sleep, args: ["1"]}
  y: {type: remote, host: a, binary: sleep, args: ["${x.host}"]}
  z: {type: remote, host: w2, binary: sleep, args: ["${y.host}"]}
`,
		want: map[string][]string{"mesh": {"a", "w2"}, "far": {"a", "w3"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := config.Parse(filepath.Join(t.TempDir(), "services.yaml"), []byte(meshNetworks+tc.services), config.Options{Lookup: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, m := range orchestrator.Meshes(st) {
				got[m.Network.Name] = m.Members
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("meshes (-want +got):\n%s", diff)
			}
		})
	}
}
