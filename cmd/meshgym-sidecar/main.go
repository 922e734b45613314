// Command meshgym-sidecar is meshgym's sidecar proxy, a lean executable:
// it only runs dataplane.Main (see package dataplane for flags and the
// admin API).
package main

import (
	"os"

	"meshgym/dataplane"
)

func main() { os.Exit(dataplane.Main()) }
