package lifecycle

import (
	"errors"
	"fmt"
	"strconv"
)

// State is where a service instance is in its lifecycle. Its value is the "state" field of
// `harness status -o json`.
type State string

// The states, in the order States returns them.
const (
	// Stopped means the instance is not running: it was never started, or it was stopped on
	// request.
	Stopped State = "stopped"
	// Starting means a start was requested: the instance waits for its dependencies, or is
	// being launched.
	Starting State = "starting"
	// Running means the instance runs. Whether it is ready is its Health, not its State.
	Running State = "running"
	// Stopping means a stop was requested; the instance stays Stopping until nothing of it
	// runs.
	Stopping State = "stopping"
	// Exited means the instance ended by itself with status 0: a one-shot that completed.
	Exited State = "exited"
	// Failed means the instance ended by itself with another status, could not be started,
	// or could not be stopped.
	Failed State = "failed"
	// Blocked means the instance was not started because a dependency failed.
	Blocked State = "blocked"
)

// states is the state machine: the only definition of the states, their order and their
// transitions. doc.go draws it; a test checks the drawing against it.
var states = machine[State]{
	{Stopped, []State{Starting, Blocked}},
	{Starting, []State{Running, Failed, Exited, Stopping, Stopped, Blocked}},
	{Running, []State{Stopping, Exited, Failed}},
	{Stopping, []State{Stopped, Failed}},
	{Exited, []State{Starting, Stopped}},
	{Failed, []State{Starting, Stopped}},
	{Blocked, []State{Starting, Stopped}},
}

// ErrIllegalTransition is the error that every error of Transition matches with errors.Is.
var ErrIllegalTransition = errors.New("illegal transition")

// TransitionError is the error Transition returns for a transition that is not legal.
type TransitionError struct {
	From, To State
}

// Error reads "illegal transition running → blocked". A state that is not Valid is quoted,
// so that an empty or misspelled one is visible.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("%v %s → %s", ErrIllegalTransition, e.From.quoted(), e.To.quoted())
}

// Unwrap returns ErrIllegalTransition, for errors.Is.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// States returns every state, in the order of their declaration, in a new slice.
func States() []State { return states.values() }

// Valid reports whether s is one of the states of States.
func (s State) Valid() bool { return states.has(s) }

// Active reports whether something of the instance is or may be running while harness is
// still bringing it up, keeping it or taking it down: the state is Starting, Running or
// Stopping. In every other state harness has nothing of it in hand; after a stop that did not
// succeed (Stopping → Failed) something may still run, which the Failed record says.
func (s State) Active() bool {
	switch s {
	case Starting, Running, Stopping:
		return true
	}
	return false
}

// CanTransition reports whether s may change to to. A state never changes to itself: an
// update that leaves the state as it is is no transition, and callers skip it. A state that
// is not Valid changes to nothing, and nothing changes to it.
func (s State) CanTransition(to State) bool { return states.allows(s, to) }

// Transition returns nil if from may change to to, and a *TransitionError matching
// ErrIllegalTransition otherwise.
func Transition(from, to State) error {
	if from.CanTransition(to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}

// quoted returns s as it is if it is Valid and quoted otherwise.
func (s State) quoted() string {
	if s.Valid() {
		return string(s)
	}
	return strconv.Quote(string(s))
}
