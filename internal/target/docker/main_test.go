package docker_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/internal/target/targettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestHelperProcess is the service of the integration tests when the environment asks for a
// Behaviour: the test binary, built static, runs in a container FROM scratch. Otherwise it
// does nothing.
func TestHelperProcess(*testing.T) { targettest.HelperMain() }
