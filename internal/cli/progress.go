package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
)

// subscribeWait bounds the wait for the daemon to accept the progress subscription: a daemon
// without an event stream must not delay a start.
const subscribeWait = 2 * time.Second

// progress prints on w, as the daemon reports them, the changes of the services of a start or
// a stop ("NAME  STATE/HEALTH  message"), from the moment it returns until the returned
// function is called: on a terminal, one live line per service, rewritten in place; else a
// line per change. Progress is help, not the result: when the event stream is not there,
// nothing is printed and nothing fails.
func (a *app) progress(ctx context.Context, c *client.Client, w io.Writer) (stop func()) {
	p := a.colors(w)
	show := func(ev api.ServiceEvent) { fmt.Fprintln(w, progressLine(p, ev)) }
	if isTerminal(w) {
		b := &board{w: w, index: map[string]int{}}
		show = func(ev api.ServiceEvent) { b.show(ev.Stack+"/"+ev.Service, progressLine(p, ev)) }
	}
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Events(ctx, api.Subscribe{}, func(uint64) { close(ready) }, func(_ uint64, ev api.ServiceEvent) error {
			show(ev)
			return nil
		})
	}()
	select {
	case <-ready:
	case <-done:
	case <-time.After(subscribeWait):
	}
	return func() {
		cancel()
		<-done
	}
}

// progressLine is one change of a service: its name, state, health when it has a check, and
// the daemon's message.
func progressLine(p palette, ev api.ServiceEvent) string {
	line := "  " + pad(ev.Service, 12) + " " + p.paint(stateColor(ev.State), ev.State)
	if ev.Health != "" && ev.Health != "none" {
		line += "/" + p.paint(healthColor(ev.Health), ev.Health)
	}
	if ev.Message != "" {
		line += "  " + ev.Message
	}
	return line
}

// board keeps one line per service on a terminal: a new service gets a line below the others,
// a change rewrites its line in place (ANSI cursor movement), and the cursor stays below.
type board struct {
	w     io.Writer
	rows  int
	index map[string]int
}

func (b *board) show(key, line string) {
	i, ok := b.index[key]
	if !ok {
		b.index[key] = b.rows
		b.rows++
		fmt.Fprintln(b.w, line)
		return
	}
	up := b.rows - i
	fmt.Fprintf(b.w, "\x1b[%dA\r\x1b[2K%s\x1b[%dB\r", up, line, up)
}
