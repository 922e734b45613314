package main

import (
	"testing"

	"meshgym/plugins"
	"meshgym/plugins/plugintest"
)

// An out-of-tree plugin runs the conformance suite on its Mesh directly
// (this catches a context it ignores) and over the wire (plugins.InProcess:
// encoding and error codes).
func TestConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		plugintest.Conformance(t, minimal{}, plugintest.ConformanceOptions{})
	})
	t.Run("wire", func(t *testing.T) {
		c, err := plugins.InProcess("minimal", minimal{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		plugintest.Conformance(t, c, plugintest.ConformanceOptions{})
	})
}
