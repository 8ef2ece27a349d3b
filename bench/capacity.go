package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// CapacityOptions sizes the capacity scenario.
type CapacityOptions struct {
	// Peers is the number of simulated browsers.
	Peers int
	// NSSize is the number of peers per namespace; 0 puts all in one.
	NSSize int
	// Probes is the number of extra peers whose join-to-visible time is measured.
	Probes int
	// Idle is the window over which the node's idle cost is measured.
	Idle time.Duration
	// Concurrency is the number of start-ups in flight during the ramp.
	Concurrency int
	// Keys is a file of peer keys to reuse ("" generates them).
	Keys string
	// StepTimeout bounds one peer's connect+reserve+join and one probe.
	StepTimeout time.Duration
	// PingEvery makes every peer open a ping stream to its node this often
	// from the end of the ramp, as js-libp2p's connection monitor does (10 s
	// in a browser); 0 sends none, as go-libp2p peers by default.
	PingEvery time.Duration
	// Transport is what the peers dial the node over; the node must have an
	// address of it (StartTarget adds one when asked). Empty is ws.
	Transport Transport
	// Progress receives the phases as they run; nil reports none.
	Progress *Progress
}

func (o *CapacityOptions) defaults() {
	if o.Transport == "" {
		o.Transport = TransportWS
	}
	if o.Peers <= 0 {
		o.Peers = 1000
	}
	if o.NSSize < 0 {
		o.NSSize = 0
	}
	if o.Probes <= 0 {
		o.Probes = 20
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 60 * time.Second
	}
}

// rampOptions are how the population comes up.
func (o CapacityOptions) rampOptions() rampOptions {
	return rampOptions{Concurrency: o.Concurrency, StepTimeout: o.StepTimeout, NSSize: o.NSSize, Progress: o.Progress}
}

// nsName is the namespace of the i-th peer.
func nsName(i, size int) string {
	if size <= 0 {
		return "bench/all"
	}
	return fmt.Sprintf("bench/%d", i/size)
}

// Capacity ramps to o.Peers live peers, measures how fast probe peers become
// visible, then the node's cost with every peer connected and idle.
func Capacity(ctx context.Context, t *Target, o CapacityOptions) (*Report, error) {
	o.defaults()
	r := newReport("capacity", t.Kind, map[string]any{
		"peers": o.Peers, "ns_size": o.NSSize, "probes": o.Probes, "idle": o.Idle.String(),
		"concurrency": o.Concurrency, "ping_every": o.PingEvery.String(), "transport": string(o.Transport),
	})
	info, err := o.Transport.nodeInfo(t.Info)
	if err != nil {
		return nil, err
	}
	gen := SelfSampler{}

	kt := time.Now()
	keys, err := Keys(o.Keys, o.Peers+o.Probes)
	if err != nil {
		return nil, err
	}
	r.addMs("generator: key load/generation", time.Since(kt))

	base, _ := sample(t.Node)
	genBase, _ := gen.Sample()
	s := newSwarm(info)
	s.transport = o.Transport
	pop, err := rampUp(ctx, s, keys[:o.Peers], o.rampOptions())
	defer pop.close()
	if err != nil {
		return nil, err
	}
	pop.reportRamp(r)
	peers := pop.live()
	pings := startPinger(ctx, peers, o.PingEvery)
	defer pings.close()

	// Let the ramp's last flushes land before probing.
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	pr, err := o.timeProbes(ctx, func(i int, ns string) (time.Duration, int, int, error) {
		return s.runProbe(ctx, o.probeKey(keys, i), ns, o.StepTimeout)
	})
	if err != nil {
		return nil, err
	}
	probes, expected, missing, failed := &pr.lat, pr.expected, pr.missing, pr.failed
	p50, p99 := r.addQuantiles("join-to-visible", probes)
	p99.target("<= 250 ms", 250, true)
	if probes.Len() > 0 {
		r.addMs("join-to-visible max", probes.Quantile(1))
	}
	if o.NSSize <= 0 {
		p50.note("one namespace: views are full, so a joiner enters none")
	}
	r.addSamples("join-to-visible", probes)
	r.add("probe views expected", float64(expected), "views")
	f := r.add("probe views missed", float64(missing), "views")
	if failed > 0 {
		f.note(fmt.Sprintf("%d probes failed to join", failed))
	}

	// Idle window.
	na, nerr := sample(t.Node)
	ga, _ := gen.Sample()
	sentBefore := pings.sent.Load()
	if err := o.Progress.Sleep(ctx, "idle window", o.Idle); err != nil {
		return nil, err
	}
	nb, _ := sample(t.Node)
	gb, _ := gen.Sample()
	if t.MetricsURL != "" {
		// The connection manager's grace period passes inside a long enough
		// window: a trimmed peer shows here.
		if v, err := scrapeGauge(t.MetricsURL, "rendezvous_peers"); err == nil {
			r.add("peers connected after the idle window", v, "peers").
				target(fmt.Sprintf(">= %d", len(peers)), float64(len(peers)), false)
		}
	}
	if o.PingEvery > 0 {
		r.add("ping streams, idle window", float64(pings.sent.Load()-sentBefore)/o.Idle.Seconds(), "/s").
			note(fmt.Sprintf("every peer every %s; %d pings failed or skipped over the run", o.PingEvery, pings.failed.Load()))
	}
	idleCPU := math.NaN()
	rss, perPeer, gor := math.NaN(), math.NaN(), math.NaN()
	if nerr == nil && t.Node != nil {
		idleCPU = CPUPercent(na, nb)
		rss = float64(nb.RSS) / (1 << 20)
		perPeer = (float64(nb.RSS) - float64(base.RSS)) / float64(len(peers)) / 1024
		if nb.Goroutines >= 0 {
			gor = float64(nb.Goroutines)
		}
	}
	shared := ""
	if t.Shared {
		shared = "in-process node: includes the generator"
	}
	r.add("node CPU, idle peers", idleCPU, "% of 1 core").note(shared)
	f = r.add("node CPU per 1,000 idle peers", idleCPU*1000/float64(len(peers)), "% of 1 core").note(shared)
	if !t.Shared {
		// The targets: browser-like peers (pinging) and go-libp2p
		// default peers (yamux keep-alive only).
		if o.PingEvery > 0 {
			f.target("<= 2 %", 2, true)
		} else {
			f.target("<= 0.25 %", 0.25, true)
		}
	}
	r.add("node RSS, idle peers", rss, "MiB").note(shared)
	f = r.add("node RSS per peer", perPeer, "KiB").note(shared)
	if !t.Shared {
		f.target("<= 64 KiB", 64, true)
	}
	r.add("node goroutines", gor, "").note(shared)
	r.add("generator CPU, idle peers", CPUPercent(ga, gb), "% of 1 core")
	r.add("generator RSS", float64(gb.RSS)/(1<<20), "MiB")
	r.add("generator RSS per peer", (float64(gb.RSS)-float64(genBase.RSS))/float64(len(peers))/1024, "KiB")
	r.add("generator CPU, whole run", (gb.CPU - genBase.CPU).Seconds(), "s")
	r.add("OVERFLOW closes", float64(s.overflows.Load()), "views")
	return r.finish(), nil
}

func sample(s Sampler) (Sample, error) {
	if s == nil {
		return Sample{Goroutines: -1}, errNoSampler
	}
	return s.Sample()
}

var errNoSampler = fmt.Errorf("bench: no node process to sample (give --pid)")

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// probeResult are a scenario's timed probe joins.
type probeResult struct {
	lat                       Latencies
	expected, missing, failed int
}

func (o CapacityOptions) probeKey(keys []crypto.PrivKey, i int) crypto.PrivKey {
	return keys[o.Peers+i]
}

// timeProbes runs o.Probes probe joins one after another, spread over the
// namespaces of the population, with run timing one of them.
func (o CapacityOptions) timeProbes(ctx context.Context, run func(i int, ns string) (time.Duration, int, int, error)) (*probeResult, error) {
	rooms := 1
	if o.NSSize > 0 {
		rooms = max(1, (o.Peers+o.NSSize-1)/o.NSSize)
	}
	pr := &probeResult{}
	prog := o.Progress.Count("probes", o.Probes, "joined")
	defer prog.Done()
	for i := range o.Probes {
		ns := nsName((i%rooms)*max(o.NSSize, 1), o.NSSize)
		lat, exp, miss, err := run(i, ns)
		if ctx.Err() != nil {
			return pr, ctx.Err()
		}
		pr.expected += exp
		pr.missing += miss
		switch {
		case err != nil:
			pr.failed++
			prog.Fail()
		case lat >= 0:
			pr.lat.Add(lat)
		}
		if err == nil {
			prog.Add(1)
		}
		// Its leave and the refills it causes settle before the next probe.
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return pr, err
		}
	}
	return pr, nil
}
