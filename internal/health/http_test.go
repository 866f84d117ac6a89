package health_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/health"
)

// errText is err's message with the variable part replaced, or "" for nil.
func errText(err error, old, new string) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), old, new)
}

// closedAddr returns a loopback address on which nothing listens (a port just released).
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func healthMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "database ready") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Token") != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	mux.HandleFunc("/vhost", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "api.internal" {
			w.WriteHeader(http.StatusMisdirectedRequest)
		}
	})
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 64<<10), "needle")
	})
	return mux
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(healthMux())
	defer srv.Close()
	down := "http://" + closedAddr(t)

	tests := []struct {
		name string
		opts health.HTTPOptions
		want string
	}{
		{"2xx", health.HTTPOptions{URL: srv.URL + "/ok"}, ""},
		{"503", health.HTTPOptions{URL: srv.URL + "/down"}, "GET URL/down: status 503, want 2xx"},
		{"exact status", health.HTTPOptions{URL: srv.URL + "/ok", ExpectedStatus: "200"}, ""},
		{"exact status mismatch", health.HTTPOptions{URL: srv.URL + "/nocontent", ExpectedStatus: "200"}, "GET URL/nocontent: status 204, want 200"},
		{"redirect not followed", health.HTTPOptions{URL: srv.URL + "/moved"}, "GET URL/moved: status 302, want 2xx"},
		{"redirect expected", health.HTTPOptions{URL: srv.URL + "/moved", ExpectedStatus: "3XX"}, ""},
		{"body contains", health.HTTPOptions{URL: srv.URL + "/ok", BodyContains: "ready"}, ""},
		{"body lacks", health.HTTPOptions{URL: srv.URL + "/ok", BodyContains: "accepting"}, `GET URL/ok: status 200, body does not contain "accepting"`},
		{"body beyond 64 KiB", health.HTTPOptions{URL: srv.URL + "/big", BodyContains: "needle"}, `GET URL/big: status 200, body does not contain "needle"`},
		{"header", health.HTTPOptions{URL: srv.URL + "/token", Headers: map[string]string{"X-Token": "s3cret"}}, ""},
		{"header missing", health.HTTPOptions{URL: srv.URL + "/token"}, "GET URL/token: status 401, want 2xx"},
		{"host header", health.HTTPOptions{URL: srv.URL + "/vhost", Headers: map[string]string{"host": "api.internal"}}, ""},
		{"method", health.HTTPOptions{URL: srv.URL + "/post", Method: "POST"}, ""},
		{"wrong method", health.HTTPOptions{URL: srv.URL + "/post"}, "GET URL/post: status 405, want 2xx"},
		{"refused", health.HTTPOptions{URL: down + "/health"}, "GET URL/health: dial tcp ADDR: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := health.HTTP(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := errText(c.Check(t.Context()), srv.URL, "URL")
			got = strings.ReplaceAll(strings.ReplaceAll(got, down, "URL"), strings.TrimPrefix(down, "http://"), "ADDR")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPInvalid(t *testing.T) {
	tests := []struct {
		opts health.HTTPOptions
		want string
	}{
		{health.HTTPOptions{URL: "ftp://127.0.0.1/x"}, `http check: want an http:// or https:// URL, got "ftp://127.0.0.1/x"`},
		{health.HTTPOptions{URL: "http://127.0.0.1/", ExpectedStatus: "2xy"}, `http check: expected status "2xy": want a status such as 200 or a class such as 2xx`},
		{health.HTTPOptions{URL: "http://127.0.0.1/", ExpectedStatus: "600"}, `http check: expected status "600": want a status such as 200 or a class such as 2xx`},
		{health.HTTPOptions{URL: "http://127.0.0.1/", Method: "GET /"}, `http check: net/http: invalid method "GET /"`},
	}
	for _, tt := range tests {
		_, err := health.HTTP(tt.opts)
		if diff := cmp.Diff(tt.want, errText(err, "", "")); diff != "" {
			t.Errorf("HTTP(%+v) (-want +got):\n%s", tt.opts, diff)
		}
	}
}

// Every check opens a connection of its own and leaves none open.
func TestHTTPNoKeepAlive(t *testing.T) {
	var opened, closed atomic.Int64
	srv := httptest.NewUnstartedServer(healthMux())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}
	srv.Start()
	c, err := health.HTTP(health.HTTPOptions{URL: srv.URL + "/ok", BodyContains: "ready"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close() // waits for the server's connections to close
	if diff := cmp.Diff([2]int64{3, 3}, [2]int64{opened.Load(), closed.Load()}); diff != "" {
		t.Errorf("connections opened, closed (-want +got):\n%s", diff)
	}
}
