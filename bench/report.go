package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"text/tabwriter"
	"time"
)

// Figure is one measured value.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Target is the project's target for this figure ("" when none).
	Target string `json:"target,omitempty"`
	// Met says whether Target is met; nil when there is no target or the
	// figure could not be measured.
	Met  *bool  `json:"met,omitempty"`
	Note string `json:"note,omitempty"`
}

// Report is the result of one scenario run.
type Report struct {
	Scenario string         `json:"scenario"`
	Started  time.Time      `json:"started"`
	Elapsed  Seconds        `json:"elapsed_s"`
	Node     string         `json:"node"`
	Params   map[string]any `json:"params"`
	Figures  []Figure       `json:"figures"`
	// Samples are the raw values behind some figures, in milliseconds and
	// sorted (the join-to-visible times of every probe), for distributions
	// and charts; the table does not print them.
	Samples map[string][]float64 `json:"samples,omitempty"`
	// LoadAvg is /proc/loadavg at the end of the run: the machine's other
	// work, which makes every figure noisier.
	LoadAvg string `json:"loadavg,omitempty"`
}

// Seconds marshals a duration as fractional seconds.
type Seconds time.Duration

// MarshalJSON implements json.Marshaler.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(math.Round(time.Duration(s).Seconds()*1000) / 1000)
}

func (r *Report) add(name string, v float64, unit string) *Figure {
	r.Figures = append(r.Figures, Figure{Name: name, Value: v, Unit: unit})
	return &r.Figures[len(r.Figures)-1]
}

// addMs adds a duration in milliseconds.
func (r *Report) addMs(name string, d time.Duration) *Figure {
	return r.add(name, float64(d.Microseconds())/1000, "ms")
}

// target sets the figure's target; atMost says lower is better.
func (f *Figure) target(text string, limit float64, atMost bool) *Figure {
	f.Target = text
	if math.IsNaN(f.Value) {
		return f
	}
	met := f.Value >= limit
	if atMost {
		met = f.Value <= limit
	}
	f.Met = &met
	return f
}

func (f *Figure) note(s string) *Figure { f.Note = s; return f }

// Figure returns the figure called name.
func (r *Report) Figure(name string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f, true
		}
	}
	return Figure{}, false
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	writeHeader(w, r.Scenario, r.Node, r.Started, r.Elapsed, r.Params)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tunit\ttarget\tmet\tnote")
	for _, f := range r.Figures {
		met := ""
		if f.Met != nil {
			met = "no"
			if *f.Met {
				met = "yes"
			}
		}
		v := "n/a"
		if !math.IsNaN(f.Value) {
			v = formatValue(f.Value)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, v, f.Unit, f.Target, met, f.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.LoadAvg != "" {
		fmt.Fprintf(w, "loadavg at end: %s\n", r.LoadAvg)
	}
	return nil
}

// writeHeader writes a table's first lines: what ran, when, with what.
func writeHeader(w io.Writer, scenario, node string, started time.Time, took Seconds, params map[string]any) {
	fmt.Fprintf(w, "scenario %s against %s node, %s, took %.1f s\n", scenario, node,
		started.UTC().Format(time.RFC3339), time.Duration(took).Seconds())
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s=%v", k, params[k])
	}
	fmt.Fprintln(w)
}

func formatValue(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// Latencies collects durations from many goroutines.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Len is the number of samples.
func (l *Latencies) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// Quantile returns the q-quantile (nearest rank), or -1 with no samples.
func (l *Latencies) Quantile(q float64) time.Duration {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	return quantile(d, q)
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return -1
	}
	slices.Sort(d)
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// addSamples keeps l's samples under name, in milliseconds and sorted.
func (r *Report) addSamples(name string, l *Latencies) {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	slices.Sort(d)
	ms := make([]float64, len(d))
	for i, v := range d {
		ms[i] = float64(v.Microseconds()) / 1000
	}
	if r.Samples == nil {
		r.Samples = make(map[string][]float64)
	}
	r.Samples[name] = ms
}

// addQuantiles adds name p50 and p99 (n/a without samples).
func (r *Report) addQuantiles(name string, l *Latencies) (p50, p99 *Figure) {
	q50, q99 := l.Quantile(0.5), l.Quantile(0.99)
	if q50 < 0 {
		return r.add(name+" p50", math.NaN(), "ms").note("no samples"),
			r.add(name+" p99", math.NaN(), "ms").note("no samples")
	}
	return r.addMs(name+" p50", q50), r.addMs(name+" p99", q99)
}

// MarshalJSON writes an unmeasured value (NaN) as null.
func (f Figure) MarshalJSON() ([]byte, error) {
	type plain Figure
	out := struct {
		plain
		Value *float64 `json:"value"`
	}{plain: plain(f)}
	if !math.IsNaN(f.Value) {
		out.Value = &f.Value
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads fractional seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(time.Duration(f * float64(time.Second)))
	return nil
}
