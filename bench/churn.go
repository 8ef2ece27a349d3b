package bench

import (
	"context"
	"crypto/rand"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// ChurnOptions sizes the churn scenario.
type ChurnOptions struct {
	Peers  int
	NSSize int
	// Rate is the number of peers per second that leave, and of new peers
	// that join in their place.
	Rate     float64
	Duration time.Duration
	// Concurrency bounds start-ups in flight (ramp and arrivals).
	Concurrency int
	Keys        string
	StepTimeout time.Duration
	// Progress receives the phases as they run; nil reports none.
	Progress *Progress
}

func (o *ChurnOptions) defaults() {
	if o.Peers <= 0 {
		o.Peers = 1000
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 60 * time.Second
	}
}

// Churn holds o.Peers live peers while o.Rate peers per second disconnect and
// as many new ones join the same namespaces, and times the resulting JOINED
// and LEFT events in every view.
func Churn(ctx context.Context, t *Target, o ChurnOptions) (*Report, error) {
	o.defaults()
	r := newReport("churn", t.Kind, map[string]any{
		"peers": o.Peers, "ns_size": o.NSSize, "rate": o.Rate, "duration": o.Duration.String(),
		"concurrency": o.Concurrency,
	})
	keys, err := Keys(o.Keys, o.Peers)
	if err != nil {
		return nil, err
	}
	s := newSwarm(t.Info)
	pop, err := rampUp(ctx, s, keys, rampOptions{Concurrency: o.Concurrency, StepTimeout: o.StepTimeout, NSSize: o.NSSize, Progress: o.Progress})
	defer pop.close()
	if err != nil {
		return nil, err
	}
	r.add("peers at start", float64(pop.size()), "peers")
	rampFailures := s.failures.Load()
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}

	gen := SelfSampler{}
	heap0, herr := t.LiveHeap()
	n0, nerr := sample(t.Node)
	g0, _ := gen.Sample()
	var left, joined, joinFailed atomic.Int64
	sem := make(chan struct{}, o.Concurrency)
	var arrivals sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
	cp := o.Progress.Window("churn", o.Duration, "leaves") // before end: its clock must not start later
	end := time.After(o.Duration)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
		}
		gone := pop.removeRandom()
		if gone == nil {
			continue
		}
		s.stop(gone, true)
		left.Add(1)
		cp.Add(1)

		select {
		case sem <- struct{}{}:
		default:
			joinFailed.Add(1) // the generator cannot keep up: counted, not queued
			continue
		}
		arrivals.Add(1)
		go func(ns string) {
			defer arrivals.Done()
			defer func() { <-sem }()
			k, _, err := crypto.GenerateEd25519Key(rand.Reader)
			if err != nil {
				joinFailed.Add(1)
				return
			}
			pctx, cancel := context.WithTimeout(ctx, o.StepTimeout)
			defer cancel()
			p, err := s.start(pctx, k, ns, true)
			if err != nil {
				joinFailed.Add(1)
				return
			}
			joined.Add(1)
			pop.add(p)
		}(gone.ns)
	}
	tick.Stop()
	cp.Done()
	churnTime := time.Since(g0.At)
	arrivals.Wait()
	// The last events are at most a flush interval away.
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	n1, _ := sample(t.Node)
	g1, _ := gen.Sample()
	heap1, herr1 := t.LiveHeap()
	settled, waited := s.settle(ctx, 10*time.Second)
	nLive := pop.size()

	r.add("leaves", float64(left.Load()), "peers")
	r.add("joins", float64(joined.Load()), "peers")
	f := r.add("joins failed", float64(joinFailed.Load()), "peers")
	if err := s.FirstError(); err != nil && s.failures.Load() > rampFailures {
		f.note("first: " + oneLine(err))
	}
	r.add("achieved rate", float64(left.Load())/churnTime.Seconds(), "leaves/s")
	r.addQuantiles("JOINED event latency", &s.joinEvents)
	r.add("JOINED events timed", float64(s.joinEvents.Len()), "events")
	r.addQuantiles("LEFT event latency", &s.leaveEvents)
	r.add("LEFT events timed", float64(s.leaveEvents.Len()), "events")
	r.add("OVERFLOW closes", float64(s.overflows.Load()), "views")
	r.addAudit(t, settled, waited, nLive)
	shared := ""
	if t.Shared {
		shared = "in-process node: includes the generator"
	}
	rss0, rss1, cpu := math.NaN(), math.NaN(), math.NaN()
	if nerr == nil {
		rss0, rss1 = float64(n0.RSS)/(1<<20), float64(n1.RSS)/(1<<20)
		cpu = CPUPercent(n0, n1)
	}
	r.add("node RSS at start", rss0, "MiB").note(shared)
	r.add("node RSS at end", rss1, "MiB").note(shared)
	r.add("node RSS growth", rss1-rss0, "MiB").note(shared)
	h0, h1 := math.NaN(), math.NaN()
	if herr == nil && herr1 == nil {
		h0, h1 = float64(heap0)/(1<<20), float64(heap1)/(1<<20)
	}
	r.add("node live heap at start", h0, "MiB").note(shared)
	r.add("node live heap at end", h1, "MiB").note(shared)
	r.add("node live heap growth", h1-h0, "MiB").note(shared)
	r.add("node CPU during churn", cpu, "% of 1 core").note(shared)
	r.add("generator CPU during churn", CPUPercent(g0, g1), "% of 1 core")
	return r.finish(), nil
}
