package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/graph-network-harness/harness/api"
)

// events serves the event stream: a WebSocket on which the client subscribes and the daemon
// pushes service events (see api.Message).
func (h *handler) events(w http.ResponseWriter, r *http.Request) error {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept answered the request itself
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s := &session{h: h, c: c}
	err = s.read(ctx)
	cancel()
	s.wg.Wait()
	if websocket.CloseStatus(err) == -1 && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		h.log.Debug("event stream", "err", err)
	}
	return nil
}

// session is one event stream connection. It holds at most one subscription: a new
// subscribe replaces it.
type session struct {
	h  *handler
	c  *websocket.Conn
	wg sync.WaitGroup // the subscription's goroutine

	mu     sync.Mutex
	cancel context.CancelFunc // ends the current subscription
}

// read answers the client's requests until the connection ends.
func (s *session) read(ctx context.Context) error {
	for {
		typ, data, err := s.c.Read(ctx)
		if err != nil {
			return err
		}
		var m api.Message
		switch {
		case typ != websocket.MessageText:
			err = errors.New("want a text message holding a JSON object")
		default:
			err = json.Unmarshal(data, &m)
		}
		if err != nil {
			s.respond(ctx, json.RawMessage("null"), nil, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("message: %v", err)})
			continue
		}
		s.handle(ctx, m)
	}
}

// handle answers one request.
func (s *session) handle(ctx context.Context, m api.Message) {
	id := m.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	if m.Type != api.MessageRequest {
		s.respond(ctx, id, nil, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("message type %q: want %q", m.Type, api.MessageRequest)})
		return
	}
	switch m.Action {
	case api.ActionSubscribe:
		var sub api.Subscribe
		if len(m.Params) > 0 {
			if err := json.Unmarshal(m.Params, &sub); err != nil {
				s.respond(ctx, id, nil, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("subscribe params: %v", err)})
				return
			}
		}
		s.stop()
		rev := s.h.b.Revision()
		if sub.Since == 0 {
			sub.Since = rev
		}
		// The answer goes first: every event of the subscription comes after it.
		s.respond(ctx, id, api.Subscribed{Revision: rev}, nil)
		s.subscribe(ctx, id, sub)
	case api.ActionUnsubscribe:
		s.stop()
		s.respond(ctx, id, api.Subscribed{Revision: s.h.b.Revision()}, nil)
	default:
		s.respond(ctx, id, nil, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("unknown action %q; want %q or %q", m.Action, api.ActionSubscribe, api.ActionUnsubscribe)})
	}
}

// subscribe starts delivering the events of sub; a subscription that cannot go on ends with a
// response carrying its id and the error.
func (s *session) subscribe(ctx context.Context, id json.RawMessage, sub api.Subscribe) {
	sctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	s.wg.Go(func() {
		defer cancel()
		err := s.h.b.Watch(sctx, sub, func(rev uint64, ev api.ServiceEvent) error {
			// The connection's ctx, not the subscription's: a write whose ctx ends closes the
			// connection, and ending a subscription must not.
			return wsjson.Write(ctx, s.c, api.Message{Type: api.MessageEvent, Event: api.EventService, Revision: rev, Data: ev})
		})
		if err != nil && sctx.Err() == nil {
			e := errorOf(err)
			s.respond(ctx, id, nil, &e)
		}
	})
}

// stop ends the current subscription, if any, and waits for it.
func (s *session) stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		s.wg.Wait()
	}
}

// respond sends a response; a connection that fails is ended by the read loop.
func (s *session) respond(ctx context.Context, id json.RawMessage, data any, e *api.Error) {
	_ = wsjson.Write(ctx, s.c, api.Message{Type: api.MessageResponse, ID: id, Data: data, Error: e})
}
