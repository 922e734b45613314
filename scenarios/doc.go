// Package scenarios owns the scenario model of meshgym, its YAML loader, the
// success-condition language and the built-in scenario files.
//
// A scenario file comes in two spellings that load to the same *Scenario:
// the book shorthand (the exercise files of Service Mesh Patterns, quirks
// included: a deployment: block naming one pattern, and a performance_test:
// block) and the long form (apiVersion: meshgym.dev/v1alpha1, explicit
// topology, pattern, load and conditions). Load, LoadBytes and Builtin read
// and validate them, reporting every problem at once as Errors with
// file:line:column; Marshal writes the long form, and loading it gives the
// same scenario back. Scenario.Notes say how each value was read.
//
// Units: durations are Duration (seconds in condition values), error rates
// and weights are percents 0–100, memory is MB, rates are requests per
// second. The language and every key are described in docs/scenarios.md.
//
// The package knows nothing of platforms, plugins or the engine: it imports
// no other meshgym package.
package scenarios
