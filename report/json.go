package report

import (
	"encoding/json"
	"io"

	"meshgym/engine"
)

// JSON writes the run as indented JSON: the engine's Result as it is
// (scenario, seed, both phases with fortio's raw record and the metrics
// snapshot, and every verdict).
func JSON(w io.Writer, res *engine.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
