package docker_test

import "meshgym/internal/dockerlock"

// lockDockerTests takes the lock that serialises the test packages which
// create or remove meshgym-labelled Docker objects (`meshgym down` in
// cmd/meshgym removes every one of them); see internal/dockerlock.
func lockDockerTests() func() { return dockerlock.Lock() }
