package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
)

// runDaemon runs a daemon on a fresh data dir until the test ends, and returns a client of
// it and a services file of one sleep service.
func runDaemon(tb testing.TB) (*client.Client, api.Stack, string) {
	tb.Helper()
	dir := tb.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(file, []byte("version: \"1.0\"\nname: ev\nservices:\n  s: {type: process, binary: sleep, args: [\"600\"]}\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{DataDir: data}) }()
	c := client.New(data)
	stack := api.Stack{Config: file, Environ: []string{"PATH=" + os.Getenv("PATH")}}
	tb.Cleanup(func() {
		_, _ = c.Stop(context.Background(), api.StopRequest{Stack: stack})
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := c.Daemon(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			tb.Fatal(err)
		}
	}
	return c, stack, data
}

// subscribe opens the event stream of the daemon on data and subscribes from now on.
func subscribe(tb testing.TB, data string) *websocket.Conn {
	tb.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(data, api.SocketName))
	}}}
	c, _, err := websocket.Dial(context.Background(), "ws://harness"+api.PathEvents, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	if err := c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"request","id":1,"action":"subscribe"}`)); err != nil {
		tb.Fatal(err)
	}
	if m := read(tb, c); m.Type != api.MessageResponse || m.Error != nil {
		tb.Fatalf("subscribe: %+v", m)
	}
	return c
}

// serviceMessage is a Message whose data is a ServiceEvent.
type serviceMessage struct {
	api.Message
	Data api.ServiceEvent `json:"data"`
}

func read(tb testing.TB, c *websocket.Conn) serviceMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var m serviceMessage
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// A start and a stop reach a subscriber as the states they go through, in order.
func TestEventStream(t *testing.T) {
	c, stack, data := runDaemon(t)
	ws := subscribe(t, data)
	if _, err := c.Start(t.Context(), api.StartRequest{Stack: stack}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stop(t.Context(), api.StopRequest{Stack: stack}); err != nil {
		t.Fatal(err)
	}
	var states []string
	var last uint64
	for len(states) < 4 {
		m := read(t, ws)
		if m.Revision <= last {
			t.Errorf("revision %d after %d", m.Revision, last)
		}
		last = m.Revision
		states = append(states, m.Data.State)
	}
	if want := []string{"starting", "running", "stopping", "stopped"}; !slices.Equal(want, states) {
		t.Errorf("states = %v, want %v", states, want)
	}
}

// BenchmarkEventLatency measures how long a state change takes to reach a subscriber: from
// the moment the registry stamped it (before it is made durable) to its arrival.
func BenchmarkEventLatency(b *testing.B) {
	c, stack, data := runDaemon(b)
	ws := subscribe(b, data)
	var lat []time.Duration
	for b.Loop() {
		if _, err := c.Start(context.Background(), api.StartRequest{Stack: stack}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Stop(context.Background(), api.StopRequest{Stack: stack}); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < 4; n++ {
			m := read(b, ws)
			lat = append(lat, time.Since(m.Data.At))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
}

// /metrics reports the services by state, and how long they took to be ready.
func TestMetrics(t *testing.T) {
	c, stack, data := runDaemon(t)
	if _, err := c.Start(t.Context(), api.StartRequest{Stack: stack}); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(data, api.SocketName))
	}}}
	resp, err := hc.Get("http://harness/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`harness_services{stack="ev",state="running"} 1`,
		`harness_service_up{service="s",stack="ev"} 1`,
		`harness_start_to_ready_seconds_count{service="s",stack="ev"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
