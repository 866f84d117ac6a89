package lifecycle

// Health is the readiness of a service instance as its health check reports it. Its value is
// the "health" field of `harness status -o json`.
type Health string

// The healths, in the order Healths returns them.
const (
	// HealthNone means no check runs: the service has none, or the instance is not running.
	HealthNone Health = "none"
	// HealthStarting means the check runs but has not decided yet (start period, or fewer
	// results than the thresholds ask for).
	HealthStarting Health = "starting"
	// HealthHealthy means the check passes.
	HealthHealthy Health = "healthy"
	// HealthUnhealthy means the check fails.
	HealthUnhealthy Health = "unhealthy"
)

// healths is the health machine: the only definition of the healths, their order and their
// transitions. doc.go draws it; a test checks the drawing against it.
var healths = machine[Health]{
	{HealthNone, []Health{HealthStarting}},
	{HealthStarting, []Health{HealthHealthy, HealthUnhealthy, HealthNone}},
	{HealthHealthy, []Health{HealthUnhealthy, HealthStarting, HealthNone}},
	{HealthUnhealthy, []Health{HealthHealthy, HealthStarting, HealthNone}},
}

// Healths returns every health, in the order of their declaration, in a new slice.
func Healths() []Health { return healths.values() }

// Valid reports whether h is one of the healths of Healths.
func (h Health) Valid() bool { return healths.has(h) }

// CanTransition reports whether h may change to to. As for State, a health never changes to
// itself, and a health that is not Valid changes to nothing.
func (h Health) CanTransition(to Health) bool { return healths.allows(h, to) }
