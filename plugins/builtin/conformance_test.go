package builtin

import (
	"testing"

	"meshgym/plugins"
	"meshgym/plugins/plugintest"
)

// The builtin plugin passes the same conformance suite every plugin must,
// directly and over the real gRPC wire.
func TestConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		plugintest.Conformance(t, NewPlugin(), plugintest.ConformanceOptions{})
	})
	t.Run("wire", func(t *testing.T) {
		c, err := plugins.InProcess(Name, NewPlugin())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		plugintest.Conformance(t, c, plugintest.ConformanceOptions{})
	})
}
