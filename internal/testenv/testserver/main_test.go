package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-version"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("testserver dev\n", out.String()); diff != "" {
		t.Errorf("-version (-want +got):\n%s", diff)
	}
}

func TestServe(t *testing.T) {
	t.Setenv("TESTSERVER_PROBE", "yes")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", "127.0.0.1:0"}, &out, listening) }()
	addr := <-listening
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	host, _ := os.Hostname()
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/health", 200, "ok"},
		{"/", 200, "hello from " + host + "\n"},
		{"/nothing", 404, "404 page not found\n"},
	} {
		code, body := get(tc.path)
		if diff := cmp.Diff([]any{tc.code, tc.body}, []any{code, body}); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tc.path, diff)
		}
	}
	if _, env := get("/env"); !strings.Contains(env, "\nTESTSERVER_PROBE=yes\n") && !strings.HasPrefix(env, "TESTSERVER_PROBE=yes\n") {
		t.Errorf("GET /env lacks TESTSERVER_PROBE=yes:\n%s", env)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after its context ended: %v", err)
	}
	if diff := cmp.Diff("listening on "+addr.String()+"\n", out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", "127.0.0.1:0"}, io.Discard, listening) }()
	addr := <-listening
	var out bytes.Buffer
	err := run(ctx, []string{"-fetch", "http://" + addr.String() + "/health", "-version"}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "fetched http://" + addr.String() + "/health: oktestserver dev\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("-fetch (-want +got):\n%s", diff)
	}
	if err := run(ctx, []string{"-fetch", "http://" + addr.String() + "/missing"}, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("-fetch of a missing page: %v, want 404", err)
	}
	cancel()
	<-done
}
