// Package config reads services.yaml: it decodes the file through yaml.Node so every value
// keeps its line, column and order, interpolates ${…} in every string value, reads env files,
// fills every default, and validates the result, reporting every problem at once as
// FILE:LINE:COL: message.
//
// The pipeline of Load and Parse:
//
//	bytes ─▶ yaml.Node ─▶ decode (+ interpolate) ─▶ env_file ─▶ normalize ─▶ validate ─▶ *Stack
//	                         └────────────── diagnostics (errors, warnings) ──────────────┘
//
// Invariants: a Stack returned without error is immutable desired state, with every default
// filled in, networks and services in file order, and the implicit local network present.
// Service references (${svc.ip|port|host|addr}) stay typed parts of a Template until the
// service starts; Template.Render resolves them as seen from the caller. Reading the output of
// MarshalYAML or MarshalJSON back gives the same stack.
//
// Concurrency: Load and Parse are safe to call concurrently; a Stack is read-only and may be
// shared by any number of goroutines.
package config
