// Command meshgym-app is meshgym's lean sample service (fake-service's
// request flow with accurate error and latency injection, and its own
// Prometheus /metrics, the sidecar's inbound series). It links only
// package sampleapps; see sampleapps.Main for flags, environment variables,
// the READY line and exit codes.
package main

import (
	"os"

	"meshgym/sampleapps"
)

func main() { os.Exit(sampleapps.Main()) }
