package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/jsonstream"
)

// message is one JSON message of the engine's answer to a pull or a build.
type message struct {
	Stream      string               `json:"stream,omitempty"`
	Status      string               `json:"status,omitempty"`
	ID          string               `json:"id,omitempty"`
	Progress    *jsonstream.Progress `json:"progressDetail,omitempty"`
	Error       string               `json:"error,omitempty"`
	ErrorDetail *jsonstream.Error    `json:"errorDetail,omitempty"`
	Aux         json.RawMessage      `json:"aux,omitempty"`
}

// failure is the error a message reports, or nil.
func (m message) failure() error {
	switch {
	case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
		return errors.New(m.ErrorDetail.Message)
	case m.Error != "":
		return errors.New(m.Error)
	}
	return nil
}

// readMessages passes each message of r to handle until r ends, and returns the first error
// a message reports. A read that fails because ctx ended returns ctx's error.
func readMessages(ctx context.Context, r io.Reader, handle func(message)) error {
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read engine messages: %w", err)
		}
		if err := m.failure(); err != nil {
			return err
		}
		handle(m)
	}
}
