// Command meshgym is a lab for learning and comparing service-mesh
// patterns: it deploys a sample system, measures it without a pattern,
// applies the pattern through a mesh, measures again and shows both with a
// verdict per success condition. This package only wires the CLI (cobra);
// the logic lives in meshgym/engine and the packages below it.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}
