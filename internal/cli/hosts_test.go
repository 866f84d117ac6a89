package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

func TestWriteHosts(t *testing.T) {
	resp := api.HostsResponse{Stack: "shop", Hosts: []api.Host{
		{Name: "db1", Host: "10.0.0.2", Port: 22, User: "deploy", Network: "lan", Reachable: true, RTT: api.Duration(412 * time.Microsecond), OS: "Linux x86_64",
			Agent: &api.HostAgent{Version: "v1.2.0", PID: 4242, Current: true}},
		{Name: "db2", Host: "10.0.0.3", Port: 2222, User: "deploy", Network: "lan", Reachable: true, RTT: api.Duration(1234 * time.Microsecond), OS: "Linux aarch64",
			Agent: &api.HostAgent{Version: "v1.1.0", PID: 7}},
		{Name: "edge", Host: "10.0.0.4", Port: 22, User: "root", Network: "lan", Reachable: true, RTT: api.Duration(2 * time.Millisecond), OS: "Linux x86_64"},
		{Name: "gone", Host: "10.0.0.5", Port: 22, User: "root", Network: "lan", Error: "node unreachable: unknown host key SHA256:abc"},
	}}
	var b strings.Builder
	if err := writeHosts(&b, palette{}, resp); err != nil {
		t.Fatal(err)
	}
	want := `NAME  ADDRESS               NETWORK  REACHABLE  RTT     OS             AGENT
db1   deploy@10.0.0.2:22    lan      yes        412µs   Linux x86_64   v1.2.0 (pid 4242)
db2   deploy@10.0.0.3:2222  lan      yes        1.23ms  Linux aarch64  v1.1.0 (pid 7) old
edge  root@10.0.0.4:22      lan      yes        2ms     Linux x86_64   -
gone  root@10.0.0.5:22      lan      no         -       -              -
gone: node unreachable: unknown host key SHA256:abc
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	b.Reset()
	if err := writeHosts(&b, palette{}, api.HostsResponse{}); err != nil || b.String() != "no remote node in the services file\n" {
		t.Errorf("no nodes: %q, %v", b.String(), err)
	}
}
