package daemon

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
)

// A row's address: the first endpoint's network, else the published ports on loopback.
func TestRowAddress(t *testing.T) {
	stack, err := config.Parse("services.yaml", []byte(`version: "1.0"
name: st
services:
  web: {type: docker, image: web:1, ports: ["18080:8080", "9090"]}
`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	web := stack.Service("web")
	running := registry.Record{State: lifecycle.Running, Endpoints: []registry.Endpoint{
		{Network: "harness-st", IP: "172.16.0.2", Port: 8080},
		{Network: "harness-st", IP: "172.16.0.2", Port: 9090},
		{Network: "host", IP: "127.0.0.1", Port: 18080},
	}}
	stopped := registry.Record{State: lifecycle.Stopped}
	tests := []struct {
		name string
		rec  registry.Record
		want api.ServiceStatus
	}{
		{"running on the bridge", running, api.ServiceStatus{IP: "172.16.0.2", Ports: []int{8080, 9090}}},
		{"stopped", stopped, api.ServiceStatus{IP: "127.0.0.1", Ports: []int{18080, 9090}}},
	}
	for _, tt := range tests {
		got := row(stack, web, tt.rec)
		if diff := cmp.Diff(tt.want, api.ServiceStatus{IP: got.IP, Ports: got.Ports}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
