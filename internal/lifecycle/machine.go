package lifecycle

import "slices"

// machine is a transition table: one row per value, in the order the package lists the values,
// each with the values it may move to. It is the only place a transition is defined; every
// question about values or transitions (the list, Valid, CanTransition) reads it, and the test
// of the drawing in doc.go reads it too.
//
// A machine is never written after package initialization, so sharing one is safe.
type machine[T comparable] []row[T]

// row is one value of a machine and the values it may move to.
type row[T comparable] struct {
	from T
	to   []T
}

// values returns the values of m in order, in a slice the caller owns.
func (m machine[T]) values() []T {
	vs := make([]T, len(m))
	for i, r := range m {
		vs[i] = r.from
	}
	return vs
}

// find returns the row of v, or false if v is not a value of m.
func (m machine[T]) find(v T) (row[T], bool) {
	for _, r := range m {
		if r.from == v {
			return r, true
		}
	}
	return row[T]{}, false
}

// has reports whether v is a value of m.
func (m machine[T]) has(v T) bool {
	_, ok := m.find(v)
	return ok
}

// allows reports whether m moves from to to. A value unknown to m moves nowhere, and nothing
// moves to it, because no row lists it.
func (m machine[T]) allows(from, to T) bool {
	r, ok := m.find(from)
	return ok && slices.Contains(r.to, to)
}
