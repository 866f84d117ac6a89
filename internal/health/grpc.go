package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// grpcChecker is the Checker that GRPC returns.
type grpcChecker struct {
	url     string
	request []byte // the framed HealthCheckRequest
	client  *http.Client
	tr      *http.Transport
}

// GRPC returns a Checker that calls grpc.health.v1.Health/Check for service (empty: the server
// as a whole) on the plaintext gRPC server at address (host:port), and is healthy when the
// answer is SERVING. Connections are opened through dial (nil: directly).
//
// It speaks the gRPC wire protocol itself (HTTP/2 without TLS, prior knowledge), with the
// standard library's HTTP/2 client, so that the daemon does not link the gRPC runtime for one
// call with a one-field message. Every check opens its own connection and closes it.
func GRPC(address, service string, dial DialFunc) Checker {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true) // and not HTTP1: http:// URLs then speak h2c
	tr := &http.Transport{Protocols: &protocols, DisableKeepAlives: true, DialContext: dialer(dial)}
	return &grpcChecker{
		url:     (&url.URL{Scheme: "http", Host: address, Path: "/grpc.health.v1.Health/Check"}).String(),
		request: grpcFrame(healthCheckRequest(service)),
		client:  &http.Client{Transport: tr},
		tr:      tr,
	}
}

// Check implements Checker.
func (c *grpcChecker) Check(ctx context.Context) error {
	defer c.tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.request))
	if err != nil {
		return fmt.Errorf("grpc health: %w", err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := c.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("grpc health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("grpc health: http status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRead))
	if err != nil {
		return fmt.Errorf("grpc health: read response: %w", err)
	}
	// A call that fails at once is "trailers-only": grpc-status comes in the headers.
	code, msg := resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	if code == "" {
		code, msg = resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	}
	if err := grpcStatusError(code, msg); err != nil {
		return fmt.Errorf("grpc health: %w", err)
	}
	msgBody, err := grpcUnframe(body)
	if err != nil {
		return fmt.Errorf("grpc health: %w", err)
	}
	status, err := healthCheckStatus(msgBody)
	if err != nil {
		return fmt.Errorf("grpc health: %w", err)
	}
	if status != servingStatusServing {
		return fmt.Errorf("grpc health: %s", servingStatusName(status))
	}
	return nil
}

// grpcFrame prefixes msg with the gRPC message header: compressed flag 0, 4-byte big-endian
// length.
func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// grpcUnframe returns the one message of a unary response body.
func grpcUnframe(b []byte) ([]byte, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("response of %d bytes holds no message", len(b))
	}
	if b[0] != 0 {
		return nil, errors.New("response message is compressed, which was not asked for")
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(n) > uint64(len(b)-5) {
		return nil, fmt.Errorf("response message of %d bytes is cut at %d", n, len(b)-5)
	}
	return b[5 : 5+n], nil
}

// grpcCodes are the names of the gRPC status codes, by number.
var grpcCodes = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// grpcStatusError turns the grpc-status and grpc-message of a response into an error, or nil
// for OK.
func grpcStatusError(code, msg string) error {
	if code == "" {
		return errors.New("response has no grpc-status")
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return fmt.Errorf("response has grpc-status %q", code)
	}
	if n == 0 {
		return nil
	}
	name := "code " + code
	if n > 0 && n < len(grpcCodes) {
		name = grpcCodes[n]
	}
	if msg == "" {
		return errors.New(name)
	}
	// grpc-message is percent-encoded; keep it raw when it is not.
	if m, err := url.PathUnescape(msg); err == nil {
		msg = m
	}
	return fmt.Errorf("%s: %s", name, msg)
}
