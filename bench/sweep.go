package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"text/tabwriter"
	"time"
)

// SweepOptions sizes the sweep: the capacity scenario at each of Sizes.
type SweepOptions struct {
	// CapacityOptions are used at every size, with Peers set to it.
	CapacityOptions
	// Sizes are the numbers of peers, run in this order.
	Sizes []int
	// Start returns the node for run i (Sizes[i]); the sweep closes it
	// after the run. Starting a fresh node per size keeps one run's memory
	// out of the next; for an external node it returns the same one each
	// time (closing it does nothing).
	Start func(ctx context.Context, i int) (*Target, error)
}

// SweepReport is the result of a sweep: one row per size, derived from the
// capacity report of that size, which is kept too.
type SweepReport struct {
	Scenario string         `json:"scenario"`
	Started  time.Time      `json:"started"`
	Elapsed  Seconds        `json:"elapsed_s"`
	Node     string         `json:"node"`
	Params   map[string]any `json:"params"`
	Rows     []SweepRow     `json:"rows"`
	Runs     []*Report      `json:"runs"`
	LoadAvg  string         `json:"loadavg,omitempty"`
}

// SweepRow is one size's cost per peer and latency.
type SweepRow struct {
	Peers     int `json:"peers"`     // asked for
	Connected int `json:"connected"` // came up
	Failed    int `json:"failed"`
	// RSSMiB is the node's RSS with every peer idle; RSSPerPeerKiB is its
	// growth over the ramp divided by the peers connected.
	RSSMiB        Num `json:"rss_mib"`
	RSSPerPeerKiB Num `json:"rss_per_peer_kib"`
	// CPU is over the idle window, in % of one core.
	CPU          Num `json:"cpu_pct"`
	CPUPer1000   Num `json:"cpu_pct_per_1000_peers"`
	JoinP50Ms    Num `json:"join_to_visible_p50_ms"`
	JoinP99Ms    Num `json:"join_to_visible_p99_ms"`
	ConnectP99Ms Num `json:"connect_p99_ms"`
}

// Num is a measured number; not measured (NaN) is null in JSON.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// UnmarshalJSON reads null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*n = Num(f)
	return err
}

// Sweep runs the capacity scenario at every size in turn. When a size
// fails it returns the sizes done so far with the error.
func Sweep(ctx context.Context, o SweepOptions) (*SweepReport, error) {
	if len(o.Sizes) == 0 || o.Start == nil {
		return nil, errors.New("bench: a sweep needs sizes and a way to start the node")
	}
	o.CapacityOptions.defaults()
	sr := &SweepReport{Scenario: "sweep", Started: time.Now(), Params: map[string]any{
		"sizes": o.Sizes, "ns_size": o.NSSize, "probes": o.Probes, "idle": o.Idle.String(),
		"concurrency": o.Concurrency, "ping_every": o.PingEvery.String(),
	}}
	defer func() {
		sr.Elapsed = Seconds(time.Since(sr.Started))
		sr.LoadAvg = loadAvg()
	}()
	for i, n := range o.Sizes {
		co := o.CapacityOptions
		co.Peers = n
		co.Progress = o.Progress.With(fmt.Sprintf("%d peers (%d/%d)", n, i+1, len(o.Sizes)))
		r, err := sweepOne(ctx, o, i, co)
		if err != nil {
			return sr, fmt.Errorf("sweep at %d peers: %w", n, err)
		}
		sr.Node = r.Node
		sr.Runs = append(sr.Runs, r)
		sr.Rows = append(sr.Rows, sweepRow(n, r))
		// The generator's memory from this size would otherwise linger
		// into the next: an in-process node's figures count it.
		debug.FreeOSMemory()
	}
	return sr, nil
}

func sweepOne(ctx context.Context, o SweepOptions, i int, co CapacityOptions) (*Report, error) {
	t, err := o.Start(ctx, i)
	if err != nil {
		return nil, err
	}
	co.Progress.Logf("capacity against %s node %s", t.Kind, t.Info.ID)
	r, err := Capacity(ctx, t, co)
	if cerr := t.Close(); cerr != nil {
		co.Progress.Logf("stopping the node: %v", cerr)
	}
	return r, err
}

// sweepRow reads one size's row from its capacity report.
func sweepRow(n int, r *Report) SweepRow {
	val := func(name string) float64 {
		if f, ok := r.Figure(name); ok {
			return f.Value
		}
		return math.NaN()
	}
	row := SweepRow{
		Peers: n, Connected: int(val("peers connected")), Failed: int(val("peers failed")),
		RSSMiB: Num(val("node RSS, idle peers")), RSSPerPeerKiB: Num(val("node RSS per peer")),
		CPU:       Num(val("node CPU, idle peers")),
		JoinP50Ms: Num(val("join-to-visible p50")), JoinP99Ms: Num(val("join-to-visible p99")),
		ConnectP99Ms: Num(val("  connect (incl. identify) p99")),
	}
	row.CPUPer1000 = Num(math.NaN())
	if row.Connected > 0 {
		row.CPUPer1000 = row.CPU * 1000 / Num(row.Connected)
	}
	return row
}

// WriteJSON writes the sweep as one JSON document, each size's full
// capacity report included.
func (sr *SweepReport) WriteJSON(w io.Writer) error { return writeJSON(w, sr) }

// WriteTable writes one row per size.
func (sr *SweepReport) WriteTable(w io.Writer) error {
	writeHeader(w, sr.Scenario, sr.Node, sr.Started, sr.Elapsed, sr.Params)
	if sr.Node == "in-process" {
		fmt.Fprintln(w, "in-process node: its RSS and CPU include the generator")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tRSS MiB\tKiB/peer\tCPU %\tCPU %/1k peers\tj2v p50 ms\tj2v p99 ms\tconnect p99 ms\tfailed\t")
	for _, r := range sr.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", r.Peers,
			num(r.RSSMiB), num(r.RSSPerPeerKiB), num(r.CPU), num(r.CPUPer1000),
			num(r.JoinP50Ms), num(r.JoinP99Ms), num(r.ConnectP99Ms), r.Failed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "RSS: node RSS, all peers idle; KiB/peer: its growth over the ramp / peers connected; CPU: node, idle window, % of one core;")
	fmt.Fprintln(w, "j2v: join-to-visible over the probes; connect: dial, Noise, yamux and identify; failed: peers that did not come up")
	if sr.LoadAvg != "" {
		fmt.Fprintf(w, "loadavg at end: %s\n", sr.LoadAvg)
	}
	return nil
}

func num(v Num) string {
	if math.IsNaN(float64(v)) {
		return "n/a"
	}
	return formatValue(float64(v))
}

// Chart files WritePlots writes.
const (
	PlotRSS  = "sweep-rss-per-peer.svg"
	PlotCPU  = "sweep-cpu-per-peer.svg"
	PlotJoin = "sweep-join-to-visible-cdf.svg"
)

// WritePlots writes the sweep's charts into dir as SVG: node RSS per peer
// against N, idle CPU per 1,000 peers against N, and the distribution of
// join-to-visible times, one curve per N.
func (sr *SweepReport) WritePlots(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	xs := make([]float64, len(sr.Rows))
	rss := make([]float64, len(sr.Rows))
	cpu := make([]float64, len(sr.Rows))
	for i, r := range sr.Rows {
		xs[i], rss[i], cpu[i] = float64(r.Peers), float64(r.RSSPerPeerKiB), float64(r.CPUPer1000)
	}
	node := map[string]string{
		"process":    "node run as a child process",
		"external":   "external node",
		"in-process": "in-process node: includes the generator",
	}[sr.Node]
	if node == "" {
		node = sr.Node + " node"
	}
	charts := map[string]*Chart{
		PlotRSS: {
			Title:  "Node RSS per peer, all peers idle (" + node + ")",
			XLabel: "peers (N)", YLabel: "KiB per peer", Markers: true,
			Series: []Series{{Name: "(RSS − RSS before the ramp) / peers", X: xs, Y: rss}},
		},
		PlotCPU: {
			Title:  "Node idle CPU per 1,000 peers (" + node + ")",
			XLabel: "peers (N)", YLabel: "% of one core per 1,000 peers", Markers: true,
			Series: []Series{{Name: "idle CPU / (N / 1,000)", X: xs, Y: cpu}},
		},
		PlotJoin: {
			Title:  "Join-to-visible, distribution over the probes",
			XLabel: "join-to-visible (ms)", YLabel: "fraction of probes", Steps: true, YMax: 1,
		},
	}
	for i, r := range sr.Runs {
		ms := r.Samples["join-to-visible"]
		s := Series{Name: fmt.Sprintf("N = %d (%d probes)", sr.Rows[i].Peers, len(ms))}
		for j, v := range ms {
			s.X = append(s.X, v)
			s.Y = append(s.Y, float64(j+1)/float64(len(ms)))
		}
		charts[PlotJoin].Series = append(charts[PlotJoin].Series, s)
	}
	for name, c := range charts {
		if err := writeChart(filepath.Join(dir, name), c); err != nil {
			return err
		}
	}
	return nil
}

func writeChart(path string, c *Chart) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.WriteSVG(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
