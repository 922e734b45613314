package metrics

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one flat Prometheus sample. Histograms appear as their
// name_bucket{le=…}, name_sum and name_count samples, summaries as
// name{quantile=…}, name_sum and name_count, as in the text format.
type Sample struct {
	Name   string            `json:"name"`             // sample name (with _bucket/_sum/_count)
	Labels map[string]string `json:"labels,omitempty"` // all labels, including le/quantile
	Value  float64           `json:"value"`            // sample value
}

// maxScrapeBytes bounds a scrape body (a sidecar's /metrics is a few KB).
const maxScrapeBytes = 32 << 20

// scrapeTimeout applies when ctx has no deadline.
const scrapeTimeout = 5 * time.Second

// HTTPClient is the HTTP client Scrape uses (a per-scrape timeout of 5 s
// applies when the context has no deadline).
var HTTPClient = &http.Client{}

// acceptHeader asks for the Prometheus text format 0.0.4, which every
// target meshgym scrapes serves (OTel Prometheus exporter, Envoy,
// linkerd-proxy).
const acceptHeader = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

// Scrape fetches url and parses its Prometheus text exposition.
func Scrape(ctx context.Context, url string) ([]Sample, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, scrapeTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w (is the component running and its admin port right?)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("scrape %s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	s, err := Parse(io.LimitReader(resp.Body, maxScrapeBytes))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return s, nil
}

// Parse reads Prometheus text format (0.0.4, with UTF-8 names as the OTel
// exporter may quote them) and returns flat samples sorted by name and
// labels.
func Parse(r io.Reader) ([]Sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	var out []Sample
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			out = appendMetric(out, name, mf.GetType(), m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return labelKey(out[i].Labels) < labelKey(out[j].Labels)
	})
	return out, nil
}

func appendMetric(out []Sample, name string, typ dto.MetricType, m *dto.Metric) []Sample {
	base := make(map[string]string, len(m.GetLabel())+1)
	for _, lp := range m.GetLabel() {
		base[lp.GetName()] = lp.GetValue()
	}
	with := func(k, v string) map[string]string {
		l := make(map[string]string, len(base)+1)
		for a, b := range base {
			l[a] = b
		}
		l[k] = v
		return l
	}
	switch typ {
	case dto.MetricType_COUNTER:
		return append(out, Sample{name, base, m.GetCounter().GetValue()})
	case dto.MetricType_GAUGE:
		return append(out, Sample{name, base, m.GetGauge().GetValue()})
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		for _, q := range s.GetQuantile() {
			out = append(out, Sample{name, with("quantile", fmtFloat(q.GetQuantile())), q.GetValue()})
		}
		out = append(out, Sample{name + "_sum", base, s.GetSampleSum()})
		return append(out, Sample{name + "_count", base, float64(s.GetSampleCount())})
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		count := float64(h.GetSampleCount())
		if h.SampleCountFloat != nil {
			count = h.GetSampleCountFloat()
		}
		hasInf := false
		for _, b := range h.GetBucket() {
			c := float64(b.GetCumulativeCount())
			if b.CumulativeCountFloat != nil {
				c = b.GetCumulativeCountFloat()
			}
			hasInf = hasInf || math.IsInf(b.GetUpperBound(), 1)
			out = append(out, Sample{name + "_bucket", with("le", fmtFloat(b.GetUpperBound())), c})
		}
		if !hasInf {
			out = append(out, Sample{name + "_bucket", with("le", "+Inf"), count})
		}
		out = append(out, Sample{name + "_sum", base, h.GetSampleSum()})
		return append(out, Sample{name + "_count", base, count})
	default: // untyped
		return append(out, Sample{name, base, m.GetUntyped().GetValue()})
	}
}

func fmtFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
		b.WriteByte(',')
	}
	return b.String()
}
