package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	type outcome struct {
		rec Record
		err error
	}
	done := make(chan outcome, 1)
	r.UpdateAsync(k, fn, func(rec Record, err error) { done <- outcome{rec, err} })
	o := <-done
	return o.rec, o.err
}

// UpdateAsync is Update without the wait: it queues the write and returns at once. Once the
// write is durable (and its event published), or has failed, then is called with what Update
// would return. Writes are applied, and their then called, in the order they were queued, one
// at a time, on a goroutine of the registry: then must be quick and must not wait for another
// write. A caller that queues a change before doing something slow, and needs the change
// stored only by the time it is done, overlaps its work with the disk.
func (r *Registry) UpdateAsync(k Key, fn func(*Record) error, then func(Record, error)) {
	if err := k.validate(); err != nil {
		then(Record{}, fmt.Errorf("update %s: %w", k, err))
		return
	}
	var fnErr error
	r.enqueue(k, func(cur Record, found bool) (*Event, error) {
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
	}, func(ev *Event, err error) {
		switch {
		case fnErr != nil:
			// The caller's own error: this layer adds nothing to it.
			then(Record{}, fnErr)
		case err != nil:
			then(Record{}, fmt.Errorf("update %s: %w", k, err))
		default:
			then(ev.Record, nil)
		}
	})
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

// op is one write waiting for a commit: the key, the decision, and its outcome.
type op struct {
	k      Key
	decide func(cur Record, found bool) (*Event, error)
	then   func(*Event, error) // called with the outcome once committed, or failed
	ev     *Event
	err    error
}

// mutate is enqueue, waiting for the outcome.
func (r *Registry) mutate(k Key, decide func(cur Record, found bool) (*Event, error)) (*Event, error) {
	type outcome struct {
		ev  *Event
		err error
	}
	done := make(chan outcome, 1)
	r.enqueue(k, decide, func(ev *Event, err error) { done <- outcome{ev, err} })
	o := <-done
	return o.ev, o.err
}

// enqueue is the one write path. It queues the write, and when no commit is in progress
// starts the committer: a goroutine that commits every queued write in batches, one write
// transaction and one fsync per batch (group commit), so that concurrent writers share the
// cost of the disk, and ends when the queue is empty. In the transaction each write's decide
// sees the current record of its key (including writes earlier in the batch); when decide
// returns an event, it gets the next revision, the record is stored or deleted and the event
// appended to the log. Only after the commit are the batch's events published to the
// watchers, in revision order, and then each write's then is called, in queue order. When
// decide returns no event or an error, nothing is written for that write; the others go on.
func (r *Registry) enqueue(k Key, decide func(cur Record, found bool) (*Event, error), then func(*Event, error)) {
	r.qmu.Lock()
	if r.closed.Load() {
		r.qmu.Unlock()
		then(nil, ErrClosed)
		return
	}
	r.queue = append(r.queue, &op{k: k, decide: decide, then: then})
	start := !r.committing
	if start {
		r.committing = true
		r.wg.Add(1) // under qmu: Close waits for it (see Close)
	}
	r.qmu.Unlock()
	if start {
		go r.commitQueued()
	}
}

// commitQueued commits the queue until it is empty.
func (r *Registry) commitQueued() {
	defer r.wg.Done()
	for {
		r.qmu.Lock()
		batch := r.queue
		r.queue = nil
		if len(batch) == 0 {
			r.committing = false
			r.qmu.Unlock()
			return
		}
		r.qmu.Unlock()
		r.commit(batch)
		for _, o := range batch {
			o.then(o.ev, o.err)
		}
	}
}

// commit writes a batch in one transaction, then publishes its events. A failure of the
// transaction itself fails every write of the batch.
func (r *Registry) commit(batch []*op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fail := func(err error) {
		for _, o := range batch {
			o.ev, o.err = nil, err
		}
	}
	if r.closed.Load() {
		fail(ErrClosed)
		return
	}
	tx, err := r.db.Begin(true)
	if err != nil {
		fail(err)
		return
	}
	// After a successful Commit, Rollback does nothing and returns ErrTxClosed.
	defer func() { _ = tx.Rollback() }()
	records, events := tx.Bucket([]byte(bucketRecords)), tx.Bucket([]byte(bucketEvents))
	var last uint64
	written := map[string]*Record{} // by key: this batch's records, nil when deleted
	for _, o := range batch {
		rev, err := r.apply(records, events, written, o)
		if err != nil {
			fail(err)
			return
		}
		if rev != 0 {
			last = rev
		}
	}
	if last == 0 {
		return // nothing to write
	}
	oldest, err := r.trim(events, last)
	if err != nil {
		fail(fmt.Errorf("trim event log: %w", err))
		return
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	for k, rec := range written {
		if rec == nil {
			delete(r.current, k)
		} else {
			r.current[k] = *rec
		}
	}
	r.oldest = oldest
	for _, o := range batch {
		if o.ev != nil {
			r.publish(*o.ev)
		}
	}
	// After publish: whoever reads Revision finds its event in the watchers' buffers.
	r.rev.Store(last)
}

// apply performs one write of a batch in tx and returns its revision, 0 when it writes
// nothing. The error is a storage error, which fails the batch; decide's own error is the
// write's outcome.
func (r *Registry) apply(records, events *bolt.Bucket, written map[string]*Record, o *op) (uint64, error) {
	key := o.k.bytes()
	cur, found, err := r.stored(records, written, key)
	if err != nil {
		return 0, err
	}
	ev, err := o.decide(cur, found)
	if err != nil || ev == nil {
		o.err = err
		return 0, nil
	}
	rev, err := events.NextSequence()
	if err != nil {
		return 0, err
	}
	// UTC drops the monotonic reading, so the time reads back from JSON as it is here.
	now := time.Now().UTC()
	ev.Revision, ev.At = rev, now
	ev.Record.Revision, ev.Record.UpdatedAt = rev, now
	rec, err := json.Marshal(ev.Record)
	if err != nil {
		return 0, fmt.Errorf("encode record: %w", err)
	}
	switch ev.Type {
	case EventPut:
		if err := records.Put(key, rec); err != nil {
			return 0, err
		}
	case EventDelete:
		if err := records.Delete(key); err != nil {
			return 0, err
		}
	}
	if err := events.Put(encodeRevision(rev), appendEvent(nil, ev, rec)); err != nil {
		return 0, err
	}
	o.ev = ev
	if ev.Type == EventDelete {
		written[string(key)] = nil
	} else {
		rec := ev.Record.clone()
		written[string(key)] = &rec
	}
	return rev, nil
}

// stored returns the record of key as the transaction sees it: written earlier in the batch,
// else as last committed (kept in memory since, else read from the file). It is a copy the
// caller may change.
func (r *Registry) stored(records *bolt.Bucket, written map[string]*Record, key []byte) (Record, bool, error) {
	if rec, ok := written[string(key)]; ok {
		if rec == nil {
			return Record{}, false, nil
		}
		return rec.clone(), true, nil
	}
	if rec, ok := r.current[string(key)]; ok {
		return rec.clone(), true, nil
	}
	v := records.Get(key)
	if v == nil {
		return Record{}, false, nil
	}
	var rec Record
	if err := json.Unmarshal(v, &rec); err != nil {
		return Record{}, false, fmt.Errorf("decode stored record: %w", err)
	}
	return rec, true, nil
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

// appendEvent appends to b the JSON of ev, whose record is already encoded as rec: the
// JSON of the Event, as json.Marshal writes it, without encoding the record twice.
func appendEvent(b []byte, ev *Event, rec []byte) []byte {
	b = append(b, `{"revision":`...)
	b = strconv.AppendUint(b, ev.Revision, 10)
	b = append(b, `,"type":`...)
	b = strconv.AppendQuote(b, string(ev.Type))
	b = append(b, `,"record":`...)
	b = append(b, rec...)
	b = append(b, `,"at":"`...)
	b = ev.At.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}
