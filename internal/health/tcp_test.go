package health_test

import (
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/health"
)

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	down := closedAddr(t)
	got := []string{
		errText(health.TCP(ln.Addr().String(), nil).Check(t.Context()), "", ""),
		errText(health.TCP(down, nil).Check(t.Context()), down, "ADDR"),
	}
	want := []string{"", "dial tcp ADDR: connect: connection refused"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
}
