package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

func TestWriteHealth(t *testing.T) {
	resp := api.HealthResponse{Stack: "shop", Services: []api.HealthResult{
		{Name: "db", Kind: "command", Status: "unhealthy", Latency: api.Duration(1500 * time.Millisecond), Output: "no response", Error: "exit status 2\nmore"},
		{Name: "cache", Kind: "tcp", Status: "healthy", Latency: api.Duration(850 * time.Microsecond)},
		{Name: "api", Kind: "http", Status: "healthy", Latency: api.Duration(12345 * time.Microsecond), Output: "\n  200 OK  \nbody"},
		{Name: "worker", Status: "none"},
	}}
	tests := []struct {
		name string
		p    palette
		want string
	}{
		{
			name: "plain",
			want: "NAME    KIND     STATUS     LATENCY  DETAIL\n" +
				"db      command  unhealthy  1.5s     exit status 2\n" +
				"cache   tcp      healthy    850µs    -\n" +
				"api     http     healthy    12.3ms   200 OK\n" +
				"worker  -        -          -        -\n",
		},
		{
			name: "colours do not change the alignment",
			p:    palette{on: true},
			want: "NAME    KIND     STATUS     LATENCY  DETAIL\n" +
				"db      command  " + red + "unhealthy" + reset + "  1.5s     exit status 2\n" +
				"cache   tcp      " + green + "healthy" + reset + "    850µs    -\n" +
				"api     http     " + green + "healthy" + reset + "    12.3ms   200 OK\n" +
				"worker  -        -          -        -\n",
		},
	}
	for _, tc := range tests {
		var b strings.Builder
		if err := writeHealth(&b, tc.p, resp); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}

	var b strings.Builder
	if err := writeHealth(&b, palette{}, api.HealthResponse{Stack: "shop"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("no service has a health check\n", b.String()); diff != "" {
		t.Errorf("no result (-want +got):\n%s", diff)
	}
}

func TestLatencyText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		1234 * time.Nanosecond:             "1µs",
		999499 * time.Nanosecond:           "999µs",
		1234567 * time.Nanosecond:          "1.23ms",
		12345678 * time.Nanosecond:         "12.3ms",
		123456789 * time.Nanosecond:        "123ms",
		1234567890 * time.Nanosecond:       "1.23s",
		12345678900 * time.Nanosecond:      "12.3s",
		123456789000 * time.Nanosecond:     "2m3s",
		2*time.Second + 4*time.Millisecond: "2s",
	} {
		r := api.HealthResult{Status: "healthy", Latency: api.Duration(d)}
		if diff := cmp.Diff(want, latencyText(r)); diff != "" {
			t.Errorf("latencyText(%v) (-want +got):\n%s", d, diff)
		}
	}
	if diff := cmp.Diff("-", latencyText(api.HealthResult{Status: "none"})); diff != "" {
		t.Errorf("no check (-want +got):\n%s", diff)
	}
}

func TestHealthError(t *testing.T) {
	tests := []struct {
		name string
		rs   []api.HealthResult
		want int
	}{
		{"none", nil, ExitOK},
		{"healthy, or no check", []api.HealthResult{{Status: "healthy"}, {Status: "none"}}, ExitOK},
		{"one unhealthy", []api.HealthResult{{Status: "healthy"}, {Status: "unhealthy"}}, ExitServiceFailed},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, exitCode(healthError(tc.rs))); diff != "" {
			t.Errorf("%s: exit code (-want +got):\n%s", tc.name, diff)
		}
	}
}
