// Package e2e holds the end-to-end tests of the harness command: they build the binary once,
// then drive it as a user does — start, status, stop, logs — against a real daemon started on
// demand in a temporary data dir per test, with real processes. The package has no code of its
// own.
package e2e
