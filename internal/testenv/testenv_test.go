package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorder is a testing.TB that records how a helper stopped the test instead of stopping it.
type recorder struct {
	testing.TB
	stops []string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) { r.stops = append(r.stops, "skip: "+fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.stops = append(r.stops, "fatal: "+fmt.Sprintf(format, args...))
}

func TestMissingSkipsLocallyAndFailsInCI(t *testing.T) {
	for _, tc := range []struct {
		ci   string
		want []string
	}{
		{"", []string{"skip: no widget; " + provider}},
		{"1", []string{"fatal: no widget; " + provider + " (CI is set: missing infrastructure fails instead of skipping)"}},
		{"true", []string{"fatal: no widget; " + provider + " (CI is set: missing infrastructure fails instead of skipping)"}},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			missing(r, "no %s", "widget")
			if diff := cmp.Diff(tc.want, r.stops); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCommandMissing(t *testing.T) {
	t.Setenv("CI", "1")
	r := &recorder{TB: t}
	if got := Command(r, "harness-no-such-command"); got != "" {
		t.Errorf("Command = %q, want empty", got)
	}
	if len(r.stops) != 1 || !strings.HasPrefix(r.stops[0], `fatal: executable "harness-no-such-command" not found`) {
		t.Errorf("Command stopped the test with %q", r.stops)
	}
}

func TestValidNetnsName(t *testing.T) {
	for name, want := range map[string]bool{
		"db":                true,
		"host-1":            true,
		"0123456789abcdef":  true,
		"":                  false,
		"-x":                false,
		"Db":                false,
		"a_b":               false,
		"a/b":               false,
		"0123456789abcdefg": false,
	} {
		if got := validNetnsName(name); got != want {
			t.Errorf("validNetnsName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDockerSocket(t *testing.T) {
	for _, tc := range []struct {
		host, want string
		wantErr    bool
	}{
		{host: "unix:///var/run/docker.sock", want: "/var/run/docker.sock"},
		{host: "unix:///run/user/1000/docker.sock", want: "/run/user/1000/docker.sock"},
		{host: "unix://", wantErr: true},
		{host: "tcp://127.0.0.1:2375", wantErr: true},
		{host: "ssh://host", wantErr: true},
	} {
		got, err := dockerSocket(tc.host)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("dockerSocket(%q) = %q, %v; want %q, error %v", tc.host, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestPingDocker runs a fake engine on a unix socket of its own.
func TestPingDocker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{name: "ok", status: http.StatusOK, body: "OK"},
		{name: "wrong answer", status: http.StatusOK, body: "nope", wantErr: `GET /_ping: answer "nope", want OK`},
		{name: "error status", status: http.StatusInternalServerError, body: "boom\n", wantErr: "GET /_ping: 500 Internal Server Error: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			socket := filepath.Join(t.TempDir(), "d.sock")
			ln, err := net.Listen("unix", socket)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/_ping" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			t.Cleanup(func() {
				srv.Close()
				if err := <-done; err != http.ErrServerClosed {
					t.Errorf("serve: %v", err)
				}
			})

			err = pingDocker(context.Background(), socket)
			var got string
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, got); diff != "" {
				t.Errorf("pingDocker error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPingDockerNoEngine(t *testing.T) {
	if err := pingDocker(context.Background(), filepath.Join(t.TempDir(), "absent.sock")); err == nil {
		t.Error("pingDocker on an absent socket succeeded")
	}
}
