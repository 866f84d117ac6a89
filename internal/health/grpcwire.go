package health

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The protocol buffer messages of grpc.health.v1, encoded and decoded by hand: a request with
// one string field and a response with one enum field do not justify the protobuf runtime.
//
//	message HealthCheckRequest  { string service = 1; }
//	message HealthCheckResponse { ServingStatus status = 1; }
//	enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }

// servingStatusServing is HealthCheckResponse.ServingStatus SERVING.
const servingStatusServing = 1

var servingStatuses = [...]string{"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"}

func servingStatusName(s uint64) string {
	if s < uint64(len(servingStatuses)) {
		return servingStatuses[s]
	}
	return fmt.Sprintf("serving status %d", s)
}

// healthCheckRequest encodes HealthCheckRequest{service}. An empty service is the empty
// message, as proto3 leaves default values out.
func healthCheckRequest(service string) []byte {
	if service == "" {
		return nil
	}
	b := []byte{0x0a} // field 1, wire type 2 (length-delimited)
	b = binary.AppendUvarint(b, uint64(len(service)))
	return append(b, service...)
}

// healthCheckStatus decodes the status of a HealthCheckResponse, skipping unknown fields. A
// missing status is UNKNOWN (0), the proto3 default.
func healthCheckStatus(b []byte) (uint64, error) {
	var status uint64
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errMalformed
		}
		b = b[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0: // varint
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return 0, errMalformed
			}
			b = b[n:]
			if field == 1 {
				status = v
			}
		case 1: // fixed64
			if len(b) < 8 {
				return 0, errMalformed
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return 0, errMalformed
			}
			b = b[n+int(l):]
		case 5: // fixed32
			if len(b) < 4 {
				return 0, errMalformed
			}
			b = b[4:]
		default:
			return 0, errMalformed
		}
	}
	return status, nil
}

var errMalformed = errors.New("malformed HealthCheckResponse")
