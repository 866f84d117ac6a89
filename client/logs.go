package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/graph-network-harness/harness/api"
)

// Logs calls fn for every stored line of the services of req, oldest first; with req.Follow it
// goes on with new lines until ctx ends, and then returns nil. An error of fn ends the stream
// and is returned as it is.
func (c *Client) Logs(ctx context.Context, req api.LogsRequest, fn func(api.LogLine) error) error {
	resp, err := c.send(ctx, "logs", http.MethodPost, api.PathLogs, req)
	if err != nil {
		if req.Follow && ctx.Err() != nil {
			return nil
		}
		return err
	}
	// Closing the body closes the connection: the daemon sees the request end.
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev api.LogEvent
		err := dec.Decode(&ev)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && req.Follow && ctx.Err() != nil:
			return nil
		case err != nil:
			return c.transportError(ctx, "logs", fmt.Errorf("read stream: %w", err))
		case ev.Error != nil:
			return fmt.Errorf("logs: %w", ev.Error)
		case ev.LogLine != nil:
			if err := fn(*ev.LogLine); err != nil {
				return err
			}
		}
	}
}
