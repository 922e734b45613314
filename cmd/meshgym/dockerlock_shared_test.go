package main

import "meshgym/internal/dockerlock"

// lockDockerTests takes the lock that serialises the test packages which
// create or remove meshgym-labelled Docker objects (sandbox/docker holds it
// while its tests run): `meshgym down` removes every such object.
func lockDockerTests() func() { return dockerlock.Lock() }
