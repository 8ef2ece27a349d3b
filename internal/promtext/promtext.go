// Package promtext reads a node's /metrics (the Prometheus text exposition)
// for the bench tool and the tests: fetched over loopback, parsed with
// Prometheus's own parser, and summed per metric and label values.
package promtext

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// MaxBytes bounds one exposition: a node's is a few hundred KiB.
const MaxBytes = 8 << 20

// Families are the metric families of one exposition, by name.
type Families map[string]*dto.MetricFamily

// Parse reads a text exposition.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return fams, nil
}

// Fetch gets url (a /metrics endpoint) with c and parses the answer.
func Fetch(ctx context.Context, c *http.Client, url string) (Families, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s: %s", url, resp.Status)
	}
	return Parse(io.LimitReader(resp.Body, MaxBytes))
}

// Sum adds the values of metric name's samples that carry every label of
// labels, given as name, value pairs ("result", "ok"). ok is false when no
// sample matched. Counters, gauges and untyped samples have a value; a
// histogram or summary counts its observations.
func (f Families) Sum(name string, labels ...string) (sum float64, ok bool) {
	fam := f[name]
	if fam == nil || len(labels)%2 != 0 {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		sum += value(m)
		ok = true
	}
	return sum, ok
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Summary != nil:
		return float64(m.GetSummary().GetSampleCount())
	}
	return 0
}

// Series names a metric and label values its samples must carry, as Sum
// takes them.
type Series struct {
	Name   string
	Labels []string
}

// String writes s as the exposition does: name{label="value",...}.
func (s Series) String() string {
	if len(s.Labels) == 0 {
		return s.Name
	}
	var b strings.Builder
	b.WriteString(s.Name + "{")
	for i := 0; i+1 < len(s.Labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", s.Labels[i], s.Labels[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// SumOf is Sum of s.
func (f Families) SumOf(s Series) (float64, bool) { return f.Sum(s.Name, s.Labels...) }

// Sample is one series of an exposition as PromQL names it: a histogram's
// are its _bucket (with le), _sum and _count series.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Samples lists every series of the exposition.
func (f Families) Samples() ([]Sample, error) {
	fams := make([]*dto.MetricFamily, 0, len(f))
	for _, fam := range f {
		fams = append(fams, fam)
	}
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, fams...)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := make([]Sample, 0, len(vec))
	for _, s := range vec {
		labels := make(map[string]string, len(s.Metric))
		for k, v := range s.Metric {
			if k != model.MetricNameLabel {
				labels[string(k)] = string(v)
			}
		}
		out = append(out, Sample{Name: string(s.Metric[model.MetricNameLabel]), Labels: labels, Value: float64(s.Value)})
	}
	return out, nil
}
