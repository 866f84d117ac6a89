package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/graph-network-harness/harness/api"
)

// Events subscribes to the daemon's event stream as sub says and calls fn with every service
// event, in revision order, until ctx ends (nil), fn fails (its error, as it is), or the
// daemon ends the subscription (its *api.Error: a subscriber that fell behind may subscribe
// again from the last revision it saw). ready, when not nil, is called once the daemon
// accepted the subscription, with the revision it starts from: every change after ready is
// delivered.
func (c *Client) Events(ctx context.Context, sub api.Subscribe, ready func(revision uint64), fn func(revision uint64, ev api.ServiceEvent) error) error {
	conn, _, err := websocket.Dial(ctx, c.base+api.PathEvents, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		return c.transportError(ctx, "events", err)
	}
	defer conn.CloseNow()
	params, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	id := json.RawMessage(`"subscribe"`)
	if err := wsjson.Write(ctx, conn, api.Message{Type: api.MessageRequest, ID: id, Action: api.ActionSubscribe, Params: params}); err != nil {
		return c.streamError(ctx, err)
	}
	for {
		var m struct {
			api.Message
			Data json.RawMessage `json:"data"`
		}
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return c.streamError(ctx, err)
		}
		switch {
		case m.Type == api.MessageResponse && m.Error != nil:
			return fmt.Errorf("events: %w", m.Error)
		case m.Type == api.MessageResponse:
			var s api.Subscribed
			if err := json.Unmarshal(m.Data, &s); err != nil {
				return fmt.Errorf("events: subscribe answer: %w", err)
			}
			if ready != nil {
				ready(s.Revision)
			}
		case m.Type == api.MessageEvent && m.Event == api.EventService:
			var ev api.ServiceEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				return fmt.Errorf("events: event %d: %w", m.Revision, err)
			}
			if err := fn(m.Revision, ev); err != nil {
				return err
			}
		}
	}
}

// streamError is nil when ctx ended the stream, else the error of the stream.
func (c *Client) streamError(ctx context.Context, err error) error {
	if ctx.Err() != nil { // the caller ended it
		return nil
	}
	return c.transportError(ctx, "events", err)
}
