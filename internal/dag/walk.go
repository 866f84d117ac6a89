package dag

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// WalkOptions tunes Walk.
type WalkOptions struct {
	// Limit is the most fn calls in flight at once; zero or less means no
	// limit.
	Limit int
	// Reverse walks dependents first, as for stopping a stack: a node runs
	// only after every node that depends on it has finished.
	Reverse bool
}

// WalkError reports the nodes whose fn failed and the nodes that were never
// called because of a failure or a cancelled context.
type WalkError struct {
	// Failed maps a node to the error its fn returned.
	Failed map[string]error
	// Skipped maps a node that was never called to the node it waited on
	// that failed or was itself skipped for a failure: the first such node
	// in edge order, so the report does not depend on timing. The value is
	// "" when the node was skipped only because the context was cancelled.
	Skipped map[string]string

	// nodes lists the keys of Failed and Skipped in insertion order.
	nodes []string
	// cancelled is the context's error when a node was skipped for it.
	cancelled error
}

// Error lists the failed and then the skipped nodes, each in insertion order,
// e.g. "2 failed (api: boom; db: x), 1 skipped (web: waits on api)".
func (e *WalkError) Error() string {
	var failed, skipped []string
	for _, name := range e.names() {
		if err, ok := e.Failed[name]; ok {
			failed = append(failed, name+": "+err.Error())
			continue
		}
		on, ok := e.Skipped[name]
		switch {
		case !ok:
		case on != "":
			skipped = append(skipped, name+": waits on "+on)
		case e.cancelled != nil:
			skipped = append(skipped, name+": "+e.cancelled.Error())
		default:
			skipped = append(skipped, name+": not started")
		}
	}
	var parts []string
	if len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d failed (%s)", len(failed), strings.Join(failed, "; ")))
	}
	if len(skipped) > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped (%s)", len(skipped), strings.Join(skipped, "; ")))
	}
	if len(parts) == 0 {
		return "walk: no node failed"
	}
	return strings.Join(parts, ", ")
}

// Unwrap returns the fn errors in insertion order, followed by the context's
// error if a node was skipped because the context was cancelled, so that
// errors.Is sees both.
func (e *WalkError) Unwrap() []error {
	var errs []error
	for _, name := range e.names() {
		if err, ok := e.Failed[name]; ok {
			errs = append(errs, err)
		}
	}
	if e.cancelled != nil {
		errs = append(errs, e.cancelled)
	}
	return errs
}

// names returns the reported nodes in insertion order; for a WalkError built
// by hand it falls back to sorted order.
func (e *WalkError) names() []string {
	if e.nodes != nil {
		return e.nodes
	}
	var names []string
	for name := range e.Failed {
		names = append(names, name)
	}
	for name := range e.Skipped {
		if _, ok := e.Failed[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Walk calls fn for every node of g, in parallel, each only after fn returned
// nil for all of its dependencies (with opts.Reverse, all of its dependents).
// Nodes that become ready together start in insertion order.
//
// When fn fails for a node, the nodes that wait on it, directly or not, are
// not called and are reported as skipped; nodes that do not wait on it go on.
// Cancelling ctx stops new calls (calls in flight see the cancelled ctx) and
// the nodes never started are reported as skipped; the WalkError then also
// wraps ctx.Err(), so errors.Is(err, context.Canceled) holds.
//
// fn runs on goroutines that Walk owns; a panic in fn is not recovered.
//
// Walk returns only after every call it started has returned. It returns nil
// when every node was called and succeeded, a *CycleError without calling fn
// if g has a cycle, and a *WalkError otherwise. g must not be changed while
// Walk runs.
func Walk(ctx context.Context, g *Graph, opts WalkOptions, fn func(ctx context.Context, name string) error) error {
	if path := g.Cycle(); path != nil {
		return &CycleError{Path: path}
	}
	w := newWalker(g, opts.Reverse)
	w.run(ctx, opts.Limit, fn)
	return w.result()
}

type nodeState uint8

const (
	waiting nodeState = iota
	running
	succeeded
	failed
	skippedFailure   // waits on a node that failed or was skipped for a failure
	skippedCancelled // not started because the context was cancelled
)

// walker is the state of one Walk. Only the goroutine that runs Walk touches
// it; the fn goroutines only send on the results channel.
type walker struct {
	g      *Graph
	waitOn [][]int // waitOn[i]: the nodes i must wait for, in edge order
	notify [][]int // notify[i]: the nodes that wait for i

	pending   []int // number of waitOn nodes not yet resolved
	state     []nodeState
	errs      []error
	blockedBy []int // for skippedFailure: the node reported in Skipped
	ready     indexHeap
	work      []int // scratch stack for resolve
	cancelled error
}

type walkResult struct {
	node int
	err  error
}

func newWalker(g *Graph, reverse bool) *walker {
	n := len(g.names)
	w := &walker{
		g:         g,
		waitOn:    g.deps,
		notify:    g.rdeps,
		pending:   make([]int, n),
		state:     make([]nodeState, n),
		errs:      make([]error, n),
		blockedBy: make([]int, n),
	}
	if reverse {
		w.waitOn, w.notify = w.notify, w.waitOn
	}
	for i := range n {
		w.pending[i] = len(w.waitOn[i])
		if w.pending[i] == 0 {
			w.ready.push(i)
		}
	}
	return w
}

func (w *walker) run(ctx context.Context, limit int, fn func(context.Context, string) error) {
	// Buffered for every node, so a finished call never blocks on sending
	// its result and always returns promptly.
	results := make(chan walkResult, len(w.g.names))
	done := ctx.Done()
	inFlight := 0
	for {
		if err := ctx.Err(); err != nil {
			for len(w.ready) > 0 {
				w.cancelled = err
				w.resolve(w.ready.pop(), skippedCancelled)
			}
		}
		for len(w.ready) > 0 && (limit <= 0 || inFlight < limit) {
			i := w.ready.pop()
			w.state[i] = running
			inFlight++
			go func() {
				results <- walkResult{node: i, err: fn(ctx, w.g.names[i])}
			}()
		}
		// With nothing in flight and nothing ready, every node is resolved:
		// in an acyclic graph an unresolved node always waits, through a
		// chain of unresolved nodes, on one that is ready or running.
		if inFlight == 0 {
			return
		}
		select {
		case r := <-results:
			inFlight--
			if r.err != nil {
				w.errs[r.node] = r.err
				w.resolve(r.node, failed)
			} else {
				w.resolve(r.node, succeeded)
			}
		case <-done:
			done = nil // seen; from now on the loop drains ready nodes
		}
	}
}

// resolve settles node i and releases the nodes that wait on it. A released
// node whose wait ended in a failure is skipped at once, releasing the nodes
// that wait on it in turn; the others become ready.
func (w *walker) resolve(i int, st nodeState) {
	w.state[i] = st
	w.work = append(w.work[:0], i)
	for len(w.work) > 0 {
		j := w.work[len(w.work)-1]
		w.work = w.work[:len(w.work)-1]
		for _, k := range w.notify[j] {
			w.pending[k]--
			if w.pending[k] > 0 {
				continue
			}
			if b := w.blocker(k); b >= 0 {
				w.state[k] = skippedFailure
				w.blockedBy[k] = b
				w.work = append(w.work, k)
				continue
			}
			if w.anyCancelled(k) {
				w.state[k] = skippedCancelled
				w.work = append(w.work, k)
				continue
			}
			w.ready.push(k)
		}
	}
}

// blocker returns the first node, in edge order, that k waits on and that
// failed or was skipped for a failure, or -1.
func (w *walker) blocker(k int) int {
	for _, d := range w.waitOn[k] {
		if st := w.state[d]; st == failed || st == skippedFailure {
			return d
		}
	}
	return -1
}

func (w *walker) anyCancelled(k int) bool {
	for _, d := range w.waitOn[k] {
		if w.state[d] == skippedCancelled {
			return true
		}
	}
	return false
}

func (w *walker) result() error {
	e := &WalkError{
		Failed:    make(map[string]error),
		Skipped:   make(map[string]string),
		nodes:     []string{},
		cancelled: w.cancelled,
	}
	for i, name := range w.g.names {
		switch w.state[i] {
		case failed:
			e.Failed[name] = w.errs[i]
		case skippedFailure:
			e.Skipped[name] = w.g.names[w.blockedBy[i]]
		case skippedCancelled:
			e.Skipped[name] = ""
		default:
			continue
		}
		e.nodes = append(e.nodes, name)
	}
	if len(e.nodes) == 0 {
		return nil
	}
	return e
}
