package health

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOwnView(t *testing.T) {
	tests := []struct{ url, host, want string }{
		{"http://localhost:8080/health", "172.30.0.2", "http://172.30.0.2:8080/health"},
		{"http://127.0.0.1/x?y=1", "172.30.0.2", "http://172.30.0.2/x?y=1"},
		{"http://[::1]:80/", "fd00::2", "http://[fd00::2]:80/"},
		{"http://localhost/", "fd00::2", "http://[fd00::2]/"},
		{"http://example.test:8080/", "172.30.0.2", "http://example.test:8080/"},
		{"http://localhost:8080/", "", "http://localhost:8080/"},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, ownView(tc.url, tc.host)); diff != "" {
			t.Errorf("ownView(%q, %q) (-want +got):\n%s", tc.url, tc.host, diff)
		}
	}
}
