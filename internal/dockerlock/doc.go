// Package dockerlock serialises the test packages that create or remove
// meshgym-labelled Docker objects. `meshgym down` (cmd/meshgym) removes
// every such object, so its tests must not run while sandbox/docker's tests
// hold containers, and the reverse.
//
// The lock is an exclusive flock(2) on a file in os.TempDir(); it is held
// across processes (each test package runs in its own test binary) and is
// released by the returned function or when the process exits.
package dockerlock

// lockFile is the base name of the lock file under os.TempDir().
const lockFile = "meshgym-docker-tests.lock"
