package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// replayBatch is how many events of the backlog one read transaction loads. Short
// transactions matter: a long-lived read transaction keeps bbolt from reusing pages and makes
// a writer that must grow the file wait.
const replayBatch = 256

// Watcher follows the registry's event log; see Watch.
type Watcher struct {
	r *Registry
	// out is Events; only run sends on it and closes it.
	out chan Event
	// live receives the events published after registration; writers send without blocking.
	live chan Event
	// stop is closed by cutOff, after cause is set, when the watcher is cut off.
	stop  chan struct{}
	cause error

	mu  sync.Mutex
	err error
}

// Watch starts a watcher that delivers every event with a revision greater than since, in
// revision order, with no gap and no duplicate: first the backlog from the log, then live
// events, until ctx ends, the watcher falls behind (ErrSlow), or the registry closes
// (ErrClosed). It fails at once with ErrCompacted when the log no longer holds every event after
// since, and with ErrFutureRevision when since is beyond the current revision.
func (r *Registry) Watch(ctx context.Context, since uint64) (*Watcher, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, fmt.Errorf("watch from revision %d: %w", since, ErrClosed)
	}
	// Under r.mu, rev is committed and published: the events after it will reach w.live.
	rev := r.rev.Load()
	switch {
	case since > rev:
		return nil, fmt.Errorf("watch from revision %d: %w (current revision %d)", since, ErrFutureRevision, rev)
	case since+1 < r.oldest:
		return nil, fmt.Errorf("watch from revision %d: %w (oldest in the log %d)", since, ErrCompacted, r.oldest)
	}
	w := &Watcher{
		r:    r,
		out:  make(chan Event),
		live: make(chan Event, r.opts.WatchBuffer),
		stop: make(chan struct{}),
	}
	r.watchers[w] = struct{}{}
	r.wg.Add(1)
	go w.run(ctx, since, rev)
	return w, nil
}

// Events returns the channel of events. It is closed when the watcher ends; Err then says why.
func (w *Watcher) Events() <-chan Event { return w.out }

// Err reports why Events was closed: nil when the watcher's ctx ended, ErrSlow when it fell
// behind, ErrClosed when the registry was closed, ErrCompacted when the log was trimmed past
// its position during the replay, or an error reading the log. It returns nil while Events is
// open.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// run replays the backlog (since, upTo] and then forwards live events until the watcher ends.
func (w *Watcher) run(ctx context.Context, since, upTo uint64) {
	defer w.r.wg.Done()
	err := w.replay(ctx, since, upTo)
	if err == nil {
		err = w.forward(ctx)
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil
	}
	w.r.detach(w)
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	close(w.out)
}

// replay sends the events (since, upTo] from the log, reading them in batches.
func (w *Watcher) replay(ctx context.Context, since, upTo uint64) error {
	for next := since + 1; next <= upTo; {
		batch, err := w.r.readLog(next, upTo)
		if err != nil {
			return err
		}
		for _, ev := range batch {
			if err := w.send(ctx, ev); err != nil {
				return err
			}
		}
		next += uint64(len(batch))
	}
	return nil
}

// forward sends the live events.
func (w *Watcher) forward(ctx context.Context) error {
	for {
		select {
		case ev := <-w.live:
			if err := w.send(ctx, ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-w.stop:
			return w.cause
		}
	}
}

// send delivers ev to the consumer, unless the watcher ends first.
func (w *Watcher) send(ctx context.Context, ev Event) error {
	select {
	case w.out <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stop:
		return w.cause
	}
}

// detach unregisters w if it is still registered, so that writers stop feeding it.
func (r *Registry) detach(w *Watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watchers, w)
}

// readLog reads up to replayBatch events of the log from revision from, none after upTo. It
// returns ErrCompacted when from is no longer in the log.
func (r *Registry) readLog(from, upTo uint64) ([]Event, error) {
	var batch []Event
	err := r.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketEvents)).Cursor()
		want := from
		for k, v := c.Seek(encodeRevision(from)); k != nil && want <= upTo && len(batch) < replayBatch; k, v = c.Next() {
			if got := decodeRevision(k); got != want {
				if want == from {
					return ErrCompacted
				}
				return fmt.Errorf("event log has revision %d where %d belongs", got, want)
			}
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("decode event %d: %w", want, err)
			}
			batch = append(batch, ev)
			want++
		}
		if len(batch) == 0 {
			// from ≤ upTo was committed; only trimming can have removed it.
			return ErrCompacted
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrCompacted) {
		return nil, fmt.Errorf("read event log: %w", err)
	}
	return batch, err
}
