// Package docker is the Docker platform: every service instance is an app
// container, and its sidecar a second container sharing the app's network
// namespace (as a Kubernetes pod's containers do), on one user-defined
// bridge network per deployment. Containers are started with
// testcontainers-go (readiness by wait strategies) and read through the
// Docker Engine API (moby client): stats, logs, exits, cleanup.
//
// Cleanup never relies on testcontainers' Ryuk reaper (its image cannot be
// pulled offline). Instead every object carries the labels
// dev.meshgym.managed=true, dev.meshgym.run=<run ID> and
// dev.meshgym.owner-pid=<meshgym's PID>, and three things remove them:
// Teardown on every path; a detached watchdog process (WatchdogMain) that
// removes the run's objects when meshgym dies without saying "done" on a
// pipe; and, at the start of every deployment, a sweep of leftovers whose
// owner process is gone. `meshgym down` removes every managed object.
//
// Containers do not share this machine's loopback, so whatever meshgym
// serves them (the OTLP trace receiver) listens on this machine's address
// on Docker's default bridge (ComponentHostAddress) and every app
// container maps host.docker.internal to it (ExtraHosts host-gateway);
// nothing is published beyond this machine.
//
// This package knows nothing of patterns or meshes.
package docker
