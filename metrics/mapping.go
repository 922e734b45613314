package metrics

import (
	"context"
	"errors"
	"strings"
	"sync"
)

// Rename maps one of a mesh's metric families onto meshgym's: samples
// named From (or From_bucket/_sum/_count) are renamed to To (same suffix),
// and their labels renamed by Labels (mesh label → meshgym label; labels
// not listed keep their names). A mesh plugin declares these (plugins'
// MetricMapping) so one set of success conditions evaluates on any mesh.
type Rename struct {
	From   string
	To     string
	Labels map[string]string
	// Where keeps only the family's samples whose labels have these values
	// (checked on the mesh's label names, before renaming); the family's
	// other samples are dropped. Empty keeps them all.
	Where map[string]string
}

// Target is one Prometheus text endpoint and the labels added to every
// sample read from it (target labels, as Prometheus adds them; they
// overwrite a label of the same name).
type Target struct {
	URL    string
	Labels map[string]string
}

// Targets turns URLs into targets without labels.
func Targets(urls []string) []Target {
	ts := make([]Target, len(urls))
	for i, u := range urls {
		ts[i] = Target{URL: u}
	}
	return ts
}

// Mapping is a set of renames; the zero Mapping changes nothing.
type Mapping []Rename

// Apply renames samples in place and returns them, without the samples
// a Rename's Where drops.
func (m Mapping) Apply(samples []Sample) []Sample {
	if len(m) == 0 {
		return samples
	}
	kept := samples[:0]
	for i := range samples {
		s := &samples[i]
		drop := false
		for _, r := range m {
			suffix, ok := familySuffix(s.Name, r.From)
			if !ok {
				continue
			}
			if !labelsMatch(s.Labels, r.Where) {
				drop = true
				break
			}
			s.Name = r.To + suffix
			if len(r.Labels) > 0 && len(s.Labels) > 0 {
				l := make(map[string]string, len(s.Labels))
				for k, v := range s.Labels {
					if nk, ok := r.Labels[k]; ok {
						k = nk
					}
					l[k] = v
				}
				s.Labels = l
			}
			break
		}
		if !drop {
			kept = append(kept, *s)
		}
	}
	return kept
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// familySuffix reports whether name is family or one of its histogram or
// summary series, and which suffix it carries.
func familySuffix(name, family string) (string, bool) {
	if name == family {
		return "", true
	}
	rest, ok := strings.CutPrefix(name, family)
	if !ok {
		return "", false
	}
	switch rest {
	case "_bucket", "_sum", "_count", "_total":
		return rest, true
	}
	return "", false
}

// CollectMapped is Collect with the samples of every target renamed by m
// before they are merged.
func CollectMapped(ctx context.Context, urls []string, m Mapping) (*Snapshot, error) {
	return CollectTargets(ctx, Targets(urls), m)
}

// CollectTargets scrapes every target, adds its target labels to its
// samples, renames them by m and merges them into one snapshot. Every
// target is tried; the errors of those that failed are joined.
func CollectTargets(ctx context.Context, targets []Target, m Mapping) (*Snapshot, error) {
	results := make([][]Sample, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			results[i], errs[i] = Scrape(ctx, t.URL)
			if len(t.Labels) > 0 {
				for j := range results[i] {
					s := &results[i][j]
					l := make(map[string]string, len(s.Labels)+len(t.Labels))
					for k, v := range s.Labels {
						l[k] = v
					}
					for k, v := range t.Labels {
						l[k] = v
					}
					s.Labels = l
				}
			}
			results[i] = m.Apply(results[i])
		})
	}
	wg.Wait()
	var all []Sample
	for _, r := range results {
		all = append(all, r...)
	}
	return FromSamples(all), errors.Join(errs...)
}
