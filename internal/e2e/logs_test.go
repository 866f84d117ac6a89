package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// logs -f prints the new lines of two services as they are written.
func TestLogsFollow(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: chatty
services:
  ping:
    type: process
    binary: sh
    args: ["-c", "i=0; while true; do i=$((i+1)); echo ping $i; sleep 0.1; done"]
  pong:
    type: process
    binary: sh
    args: ["-c", "i=0; while true; do i=$((i+1)); echo pong $i; sleep 0.1; done"]
`)
	s.must(0, "start")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd, sc := s.background(ctx, "logs", "-f", "-n", "1")
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	// Lines arrive while the services write them: at least five new ones of each.
	seen := map[string]int{}
	for sc.Scan() && (seen["ping"] < 6 || seen["pong"] < 6) {
		line := sc.Text()
		for _, name := range []string{"ping", "pong"} {
			if strings.HasPrefix(line, name) && strings.Contains(line, "| "+name+" ") {
				seen[name]++
			}
		}
	}
	if seen["ping"] < 6 || seen["pong"] < 6 {
		t.Errorf("logs -f: %d ping and %d pong lines before it ended (%v), want at least 6 of each", seen["ping"], seen["pong"], sc.Err())
	}
}
