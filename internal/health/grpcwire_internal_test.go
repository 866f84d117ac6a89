package health

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The hand-written codec agrees with the protobuf runtime.
func TestHealthCheckRequest(t *testing.T) {
	for _, service := range []string{"", "svc", strings.Repeat("x", 300)} {
		want, err := proto.Marshal(&healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, healthCheckRequest(service), cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
			t.Errorf("healthCheckRequest(%.10q) (-want +got):\n%s", service, diff)
		}
	}
}

func TestHealthCheckStatus(t *testing.T) {
	type result struct {
		Status uint64
		Err    string
	}
	decode := func(b []byte) result {
		s, err := healthCheckStatus(b)
		if err != nil {
			return result{Err: err.Error()}
		}
		return result{Status: s}
	}
	var got, want []result
	for s := range int32(4) {
		b, err := proto.Marshal(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_ServingStatus(s)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, decode(b))
		want = append(want, result{Status: uint64(s)})
	}
	// Unknown fields of every wire type are skipped, wherever they are.
	var b []byte
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("later"))
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 2)
	b = protowire.AppendTag(b, 8, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 1)
	b = protowire.AppendTag(b, 9, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 1)
	b = protowire.AppendTag(b, 10, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<40)
	got = append(got, decode(b), decode([]byte{0x08}), decode([]byte{0x12, 0x05, 'a'}), decode([]byte{0x0b}))
	want = append(want, result{Status: 2},
		result{Err: "malformed HealthCheckResponse"}, // a tag without its value
		result{Err: "malformed HealthCheckResponse"}, // a length past the end
		result{Err: "malformed HealthCheckResponse"}, // wire type 3 (groups) is not proto3
	)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("healthCheckStatus (-want +got):\n%s", diff)
	}
}

func TestGRPCUnframe(t *testing.T) {
	type result struct {
		Msg string
		Err string
	}
	var got []result
	for _, b := range [][]byte{
		grpcFrame([]byte{0x08, 0x01}),
		{0, 0, 0},
		{1, 0, 0, 0, 0},
		{0, 0, 0, 0, 9, 1},
	} {
		m, err := grpcUnframe(b)
		r := result{Msg: string(m)}
		if err != nil {
			r.Err = err.Error()
		}
		got = append(got, r)
	}
	want := []result{
		{Msg: "\x08\x01"},
		{Err: "response of 3 bytes holds no message"},
		{Err: "response message is compressed, which was not asked for"},
		{Err: "response message of 9 bytes is cut at 1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grpcUnframe (-want +got):\n%s", diff)
	}
}
