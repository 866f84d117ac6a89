package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time {
	t := now.Add(-d)
	return &t
}

var shopStatus = api.Status{Stack: "shop", Services: []api.ServiceStatus{
	{Name: "db", Type: "docker", Node: "local", State: "running", Health: "healthy", ContainerID: "0123456789abcdef0123", IP: "172.28.0.2", Ports: []int{5432}, StartedAt: ago(2*time.Hour + 10*time.Minute)},
	{Name: "api", Type: "process", Node: "local", State: "running", Health: "none", PID: 4242, IP: "127.0.0.1", Ports: []int{8080, 8081}, Restarts: 2, StartedAt: ago(42 * time.Second)},
	{Name: "worker", Type: "process", Node: "local", State: "exited", Health: "none", StartedAt: ago(time.Hour), Message: "exited with code 1"},
	{Name: "web", Type: "remote", Node: "edge-1", State: "blocked", Health: "none", Message: "dependency api failed"},
	{Name: "cache", Type: "remote", Node: "edge-2", State: "running", Health: "healthy", PID: 77, Unreachable: "node unreachable: ping: i/o timeout"},
	{Name: "v6", Type: "process", Node: "local", State: "starting", Health: "starting", PID: 7, IP: "::1", Ports: []int{9000}, StartedAt: ago(3*24*time.Hour + 4*time.Hour)},
	{Name: "idle", Type: "process", Node: "local", State: "stopped", Health: "none"},
}}

func TestWriteStatus(t *testing.T) {
	var b strings.Builder
	if err := writeStatus(&b, palette{}, shopStatus, now); err != nil {
		t.Fatal(err)
	}
	want := `NAME    TYPE     NODE                  STATE     HEALTH    PID           ADDRESS              RESTARTS  UPTIME
db      docker   local                 running   healthy   0123456789ab  172.28.0.2:5432      0         2h10m
api     process  local                 running   -         4242          127.0.0.1:8080,8081  2         42s
worker  process  local                 exited    -         -             -                    0         -
web     remote   edge-1                blocked   -         -             -                    0         -
cache   remote   edge-2 (unreachable)  running   healthy   77            -                    0         -
v6      process  local                 starting  starting  7             [::1]:9000           0         3d4h
idle    process  local                 stopped   -         -             -                    0         -
worker: exited with code 1
web: dependency api failed
cache: node unreachable: ping: i/o timeout
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestWriteStatusColours checks that colours do not change the alignment.
func TestWriteStatusColours(t *testing.T) {
	s := api.Status{Services: []api.ServiceStatus{
		{Name: "db", Type: "docker", Node: "local", State: "running", Health: "unhealthy", PID: 1},
	}}
	var b strings.Builder
	if err := writeStatus(&b, palette{on: true}, s, now); err != nil {
		t.Fatal(err)
	}
	want := "NAME  TYPE    NODE   STATE    HEALTH     PID  ADDRESS  RESTARTS  UPTIME\n" +
		"db    docker  local  " + green + "running" + reset + "  " + red + "unhealthy" + reset + "  1    -        0         -\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                  "0s",
		0:                             "0s",
		999 * time.Millisecond:        "0s",
		59 * time.Second:              "59s",
		time.Minute + 2*time.Second:   "1m02s",
		59*time.Minute + time.Second:  "59m01s",
		time.Hour:                     "1h00m",
		23*time.Hour + 59*time.Minute: "23h59m",
		24 * time.Hour:                "1d0h",
		100*24*time.Hour + time.Hour:  "100d1h",
	} {
		if diff := cmp.Diff(want, shortDuration(d)); diff != "" {
			t.Errorf("shortDuration(%v) (-want +got):\n%s", d, diff)
		}
	}
}
