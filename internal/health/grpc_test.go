package health_test

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/graph-network-harness/harness/internal/health"
)

// grpcServer serves grpc on a loopback port until the test ends; with health, it registers
// the standard health service with "svc" SERVING and "down" NOT_SERVING.
func grpcServer(t *testing.T, withHealth bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	if withHealth {
		hs := grpchealth.NewServer()
		hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
		hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
		hs.SetServingStatus(longService, healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(s, hs)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ln)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return ln.Addr().String()
}

// longService needs a two-byte length in the request.
var longService = strings.Repeat("a.very.long.service.name.", 12)

func TestGRPC(t *testing.T) {
	addr := grpcServer(t, true)
	bare := grpcServer(t, false)
	down := closedAddr(t)
	tests := []struct {
		name, addr, service string
		want                string
	}{
		{"server", addr, "", ""},
		{"serving", addr, "svc", ""},
		{"serving, long name", addr, longService, ""},
		{"not serving", addr, "down", "grpc health: NOT_SERVING"},
		{"unknown service", addr, "nope", "grpc health: NOT_FOUND: unknown service"},
		{"no health service", bare, "", "grpc health: UNIMPLEMENTED: unknown service grpc.health.v1.Health"},
		{"no server", down, "", "grpc health: dial tcp ADDR: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errText(health.GRPC(tt.addr, tt.service, nil).Check(t.Context()), down, "ADDR")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}
