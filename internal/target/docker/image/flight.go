package image

import (
	"context"
	"sync"
)

// group runs one piece of work per key at a time and lets every concurrent caller for that
// key wait for it. The zero group is ready to use.
type group struct {
	mu      sync.Mutex
	flights map[string]*flight
}

// flight is one run of the work of a key.
type flight struct {
	done   chan struct{} // closed when err is set
	err    error
	cancel context.CancelFunc

	waiters int // callers still waiting, guarded by group.mu

	noteMu sync.Mutex // serializes notes and guards notes and nextID
	notes  map[int]func(string)
	nextID int
}

// do returns the error of fn for key: it starts fn unless a run for key is under way, and
// waits for that run. fn runs with a context of its own, cancelled when every caller waiting
// for it has gone; its note reaches the notes of the callers waiting at that moment.
func (g *group) do(ctx context.Context, key string, note func(string), fn func(context.Context, func(string)) error) error {
	g.mu.Lock()
	f, running := g.flights[key]
	if !running {
		f = &flight{done: make(chan struct{}), notes: map[int]func(string){}}
		if g.flights == nil {
			g.flights = map[string]*flight{}
		}
		g.flights[key] = f
	}
	f.waiters++
	id := f.join(note)
	if !running {
		var runCtx context.Context
		runCtx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
		go func() {
			err := fn(runCtx, f.note)
			g.forget(key, f)
			f.err = err
			f.cancel()
			close(f.done)
		}()
	}
	g.mu.Unlock()

	select {
	case <-f.done:
		f.leave(id)
		return f.err
	case <-ctx.Done():
		f.leave(id)
		g.mu.Lock()
		f.waiters--
		last := f.waiters == 0
		if last && g.flights[key] == f {
			delete(g.flights, key)
		}
		g.mu.Unlock()
		if last {
			f.cancel()
			<-f.done
		}
		return ctx.Err()
	}
}

// forget removes f from the table unless it was removed already.
func (g *group) forget(key string, f *flight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.flights[key] == f {
		delete(g.flights, key)
	}
}

// join adds note to the notes of f and returns its id for leave.
func (f *flight) join(note func(string)) int {
	f.noteMu.Lock()
	defer f.noteMu.Unlock()
	f.nextID++
	f.notes[f.nextID] = note
	return f.nextID
}

// leave removes the note of id: once leave returns, it is not called again.
func (f *flight) leave(id int) {
	f.noteMu.Lock()
	defer f.noteMu.Unlock()
	delete(f.notes, id)
}

// note passes line to the note of every waiting caller.
func (f *flight) note(line string) {
	f.noteMu.Lock()
	defer f.noteMu.Unlock()
	for _, n := range f.notes {
		n(line)
	}
}
