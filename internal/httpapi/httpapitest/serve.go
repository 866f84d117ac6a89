package httpapitest

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/graph-network-harness/harness/internal/httpapi"
)

// Server serves a Backend on a unix socket for one test.
type Server struct {
	srv    *http.Server
	once   sync.Once
	served chan error
	conns  sync.WaitGroup // the connections' goroutines, until they close
}

// Serve serves b with httpapi.NewHandler on the unix socket at path (httpapi.Listen) until
// Close, which the test's cleanup also calls.
func Serve(t testing.TB, path string, b httpapi.Backend) *Server {
	t.Helper()
	ln, err := httpapi.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{served: make(chan error, 1)}
	s.srv = &http.Server{
		Handler: httpapi.NewHandler(b, nil),
		// StateNew is set by Serve's goroutine before the connection's goroutine starts.
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				s.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.conns.Done()
			}
		},
	}
	go func() { s.served <- s.srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		s.conns.Wait() // net/http lingers on a connection it closes: wait, for goleak
	})
	return s
}

// Close stops serving at once: it closes the socket (removing its file) and every connection,
// and waits for the serving goroutine, not for the connections' (the test's cleanup does).
// Handlers still running see their connection closed. It may be called more than once, from
// any goroutine, a handler's included.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.srv.Close()
		if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	})
	return err
}
