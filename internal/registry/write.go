package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Put creates or replaces the record of rec.Key and returns it as stored, with Revision and
// UpdatedAt set by the registry (the values in rec are ignored).
func (r *Registry) Put(rec Record) (Record, error) {
	if err := rec.Key.validate(); err != nil {
		return Record{}, fmt.Errorf("put %s: %w", rec.Key, err)
	}
	rec = rec.clone()
	ev, err := r.mutate(rec.Key, func(Record, bool) (*Event, error) {
		return &Event{Type: EventPut, Record: rec}, nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("put %s: %w", rec.Key, err)
	}
	return ev.Record, nil
}

// Update reads the record of k, lets fn change it and stores the result, all in one
// transaction, and returns the record as stored. fn sees a zero Record with Key set when there
// is none; it must not change Key, and must not call the Registry (it runs under the write
// lock). An error from fn aborts the update and is returned as is. An Update whose fn changes
// nothing still writes, with a new revision and event.
func (r *Registry) Update(k Key, fn func(*Record) error) (Record, error) {
	if err := k.validate(); err != nil {
		return Record{}, fmt.Errorf("update %s: %w", k, err)
	}
	var fnErr error
	ev, err := r.mutate(k, func(cur Record, found bool) (*Event, error) {
		if !found {
			cur = Record{Key: k}
		}
		if fnErr = fn(&cur); fnErr != nil {
			return nil, fnErr
		}
		if cur.Key != k {
			return nil, fmt.Errorf("the update changed the key to %s", cur.Key)
		}
		return &Event{Type: EventPut, Record: cur.clone()}, nil
	})
	switch {
	case fnErr != nil:
		// The caller's own error: this layer adds nothing to it.
		return Record{}, fnErr
	case err != nil:
		return Record{}, fmt.Errorf("update %s: %w", k, err)
	}
	return ev.Record, nil
}

// Delete deletes the record of k. Deleting an absent record is not an error and makes no event.
func (r *Registry) Delete(k Key) error {
	if err := k.validate(); err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	_, err := r.mutate(k, func(cur Record, found bool) (*Event, error) {
		if !found {
			return nil, nil
		}
		return &Event{Type: EventDelete, Record: cur}, nil
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	return nil
}

// mutate is the one write path. Under the write lock and in one write transaction, it shows
// decide the current record of k; when decide returns an event, mutate gives it the next
// revision, stores or deletes the record, appends the event to the log, trims the log, commits,
// and only then publishes the event to the watchers. When decide returns no event, nothing is
// written and mutate returns nil.
func (r *Registry) mutate(k Key, decide func(cur Record, found bool) (*Event, error)) (*Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, ErrClosed
	}
	tx, err := r.db.Begin(true)
	if err != nil {
		return nil, err
	}
	// After a successful Commit, Rollback does nothing and returns ErrTxClosed.
	defer func() { _ = tx.Rollback() }()

	records, events := tx.Bucket([]byte(bucketRecords)), tx.Bucket([]byte(bucketEvents))
	key := k.bytes()
	var (
		cur   Record
		found bool
	)
	if v := records.Get(key); v != nil {
		if err := json.Unmarshal(v, &cur); err != nil {
			return nil, fmt.Errorf("decode stored record: %w", err)
		}
		found = true
	}
	ev, err := decide(cur, found)
	if err != nil || ev == nil {
		return nil, err
	}

	rev, err := events.NextSequence()
	if err != nil {
		return nil, err
	}
	// UTC drops the monotonic reading, so the time reads back from JSON as it is here.
	now := time.Now().UTC()
	ev.Revision, ev.At = rev, now
	ev.Record.Revision, ev.Record.UpdatedAt = rev, now

	switch ev.Type {
	case EventPut:
		v, err := json.Marshal(ev.Record)
		if err != nil {
			return nil, fmt.Errorf("encode record: %w", err)
		}
		if err := records.Put(key, v); err != nil {
			return nil, err
		}
	case EventDelete:
		if err := records.Delete(key); err != nil {
			return nil, err
		}
	}
	v, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	if err := events.Put(encodeRevision(rev), v); err != nil {
		return nil, err
	}
	oldest, err := r.trim(events, rev)
	if err != nil {
		return nil, fmt.Errorf("trim event log: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}

	r.oldest = oldest
	r.publish(*ev)
	// After publish: whoever reads Revision finds its event in the watchers' buffers.
	r.rev.Store(rev)
	return ev, nil
}

// trim deletes the events that fall out of the log once rev is appended, the revisions
// ≤ rev-KeepEvents, and returns the oldest revision left. The log is contiguous, so in the
// steady state this deletes exactly one event, the first.
func (r *Registry) trim(events *bolt.Bucket, rev uint64) (uint64, error) {
	keep := uint64(r.opts.KeepEvents)
	c := events.Cursor()
	k, _ := c.First()
	for rev > keep && k != nil && decodeRevision(k) <= rev-keep {
		if err := events.Delete(k); err != nil {
			return 0, err
		}
		// Deleting invalidates the cursor's position: seek again.
		k, _ = c.First()
	}
	if k == nil {
		// Cannot happen: rev itself was just appended.
		return 0, errors.New("event log is empty")
	}
	return decodeRevision(k), nil
}

// publish hands ev to every watcher without blocking: a watcher whose buffer is full is cut off
// with ErrSlow. r.mu is held.
func (r *Registry) publish(ev Event) {
	for w := range r.watchers {
		select {
		case w.live <- ev.clone():
		default:
			r.cutOff(w, ErrSlow)
			r.log.Debug("registry watcher cut off", "reason", ErrSlow, "revision", ev.Revision, "buffer", cap(w.live))
		}
	}
}

// cutOff ends the registered watcher w with cause. r.mu is held.
func (r *Registry) cutOff(w *Watcher, cause error) {
	delete(r.watchers, w)
	w.cause = cause
	close(w.stop)
}
