package registry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/lifecycle"
)

// TestAppendEvent: the log's encoding of an event is json.Marshal's, byte for byte.
func TestAppendEvent(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	for _, typ := range []EventType{EventPut, EventDelete} {
		ev := &Event{Revision: 42, Type: typ, At: at, Record: Record{
			Key: Key{Stack: "shop", Service: "api \"quoted\" <tag>"}, State: lifecycle.Running,
			Message: "line\nbreak é", Revision: 42, UpdatedAt: at,
		}}
		rec, err := json.Marshal(ev.Record)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(appendEvent(nil, ev, rec))); diff != "" {
			t.Errorf("%s event (-want +got):\n%s", typ, diff)
		}
	}
}
