package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/graph-network-harness/harness/api"
)

// logs streams the lines of a LogsRequest as JSON lines, one api.LogLine per line, flushed
// one by one so that a follower sees each line as it comes. The status and headers are sent
// with the first line (or when the Backend returns): an error before that is an ordinary
// error response, an error after it is a last line {"error": …} (api.LogEvent). When the
// client goes away, the request's context ends and so does the Backend's Logs.
func (h *handler) logs(w http.ResponseWriter, r *http.Request) error {
	var req api.LogsRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	began := false
	begin := func() {
		if !began {
			began = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
	}
	err := h.b.Logs(r.Context(), req, func(line api.LogLine) error {
		begin()
		if err := enc.Encode(line); err != nil {
			return err
		}
		return rc.Flush()
	})
	switch {
	case err == nil:
		begin() // no line at all: an empty stream
		return nil
	case !began:
		return err
	case r.Context().Err() != nil:
		return nil // the client went away: nobody is left to tell
	}
	e := errorOf(err)
	h.log.Debug("logs stream", "err", e.Message)
	if err := enc.Encode(api.LogEvent{Error: &e}); err == nil {
		_ = rc.Flush()
	}
	return nil
}
