package health_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/health"
)

// memLines is an in-memory LineSource: Write delivers a line to every subscriber (channels
// buffered deep enough for the tests), Close ends the output.
type memLines struct {
	mu   sync.Mutex
	subs map[chan string]bool
	err  error // Subscribe fails with it
}

func newMemLines() *memLines { return &memLines{subs: map[chan string]bool{}} }

func (m *memLines) Subscribe(ctx context.Context) (<-chan string, error) {
	if m.err != nil {
		return nil, m.err
	}
	ch := make(chan string, 64)
	m.mu.Lock()
	m.subs[ch] = true
	m.mu.Unlock()
	context.AfterFunc(ctx, func() { m.drop(ch) })
	return ch, nil
}

func (m *memLines) drop(ch chan string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs[ch] {
		delete(m.subs, ch)
		close(ch)
	}
}

func (m *memLines) Write(line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ch := range m.subs {
		ch <- line
	}
}

func (m *memLines) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ch := range m.subs {
		delete(m.subs, ch)
		close(ch)
	}
}

func (m *memLines) subscribers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

func TestLogLine(t *testing.T) { synctest.Test(t, testLogLine) }

func testLogLine(t *testing.T) {
	src := newMemLines()
	src.Write("ready to accept connections") // old output: written before the checker exists
	c := health.LogLine(src, regexp.MustCompile(`ready to accept`))
	check := func() string { return errText(c.Check(t.Context()), "", "") }

	var got []string
	got = append(got, check())
	src.Write("starting up")
	got = append(got, check())
	src.Write("still starting")
	src.Write("LOG: database system is ready to accept connections")
	src.Write("more")
	got = append(got, check(), check())
	synctest.Wait()           // for the source's AfterFunc
	subs := src.subscribers() // the match dropped the subscription
	src.Write("shutting down")
	got = append(got, check()) // healthy for good
	want := []string{`log line: no line matches "ready to accept" yet`, `log line: no line matches "ready to accept" yet`, "", "", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(0, subs); diff != "" {
		t.Errorf("subscribers after the match (-want +got):\n%s", diff)
	}
}

func TestLogLineOutputEnds(t *testing.T) {
	src := newMemLines()
	c := health.LogLine(src, regexp.MustCompile(`ready`))
	src.Write("fatal: no config")
	src.Close()
	var got []string
	for range 2 {
		got = append(got, errText(c.Check(t.Context()), "", ""))
	}
	want := []string{`log line: output ended with no line matching "ready"`, `log line: output ended with no line matching "ready"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
}

func TestLogLineSubscribeFails(t *testing.T) {
	src := newMemLines()
	src.err = errors.New("no log for this instance")
	got := errText(health.LogLine(src, regexp.MustCompile(`ready`)).Check(t.Context()), "", "")
	if diff := cmp.Diff("log line: subscribe to output: no log for this instance", got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
}
