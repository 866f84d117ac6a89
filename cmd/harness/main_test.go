package main

import (
	"testing"

	"github.com/graph-network-harness/harness/internal/agent"
	"github.com/graph-network-harness/harness/internal/cli"
)

// `harness agent dial` finds the socket `harness agent run` listens on.
func TestAgentSocketName(t *testing.T) {
	if cli.AgentSocketName != agent.SocketName {
		t.Errorf("cli.AgentSocketName %q, agent.SocketName %q: want the same", cli.AgentSocketName, agent.SocketName)
	}
}
