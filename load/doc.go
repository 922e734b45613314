// Package load generates HTTP load on fortio's library and summarises what
// the load generator (the end user) saw.
//
// It owns: pacing (rate, connections, duration, evenly paced or bursty
// connections), the client-side latency histogram and its resolution, live
// progress counts, cancellation, and the ClientView — the client-side summary
// every other package reads. The raw fortio record (fhttp.HTTPRunnerResults)
// is kept beside it as the JSON record of a run.
//
// It must not know meshes, patterns, platforms, scenario syntax or
// server-side metrics: it is given a URL and a Spec and reports what one
// HTTP client saw.
//
// Only fortio.org/fortio/{fhttp,periodic,stats} are imported from fortio
// (plus fortio.org/log, to keep fortio's console logging quiet); fortio's
// root and cli packages need a module that is not served.
package load
