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
}

// Mapping is a set of renames; the zero Mapping changes nothing.
type Mapping []Rename

// Apply renames samples in place and returns them.
func (m Mapping) Apply(samples []Sample) []Sample {
	if len(m) == 0 {
		return samples
	}
	for i := range samples {
		s := &samples[i]
		for _, r := range m {
			suffix, ok := familySuffix(s.Name, r.From)
			if !ok {
				continue
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
	}
	return samples
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
	results := make([][]Sample, len(urls))
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			results[i], errs[i] = Scrape(ctx, u)
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
