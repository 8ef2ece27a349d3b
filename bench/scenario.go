package bench

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The scenarios share their opening and their end: a report with the
// parameters, a population of live peers ramped up against the node (or the
// nodes) and closed again when the scenario returns, and the run's elapsed
// time and the machine's load.

// newReport opens the report of scenario run against node (a Target's Kind).
func newReport(scenario, node string, params map[string]any) *Report {
	return &Report{Scenario: scenario, Started: time.Now(), Node: node, Params: params}
}

// finish records the run's elapsed time and the machine's load at its end.
func (r *Report) finish() *Report {
	r.Elapsed = Seconds(time.Since(r.Started))
	r.LoadAvg = loadAvg()
	return r
}

// rampOptions say how a population comes up.
type rampOptions struct {
	// Concurrency bounds the start-ups (and the closes) in flight.
	Concurrency int
	// StepTimeout bounds one peer's connect+reserve+join.
	StepTimeout time.Duration
	// NSSize is the number of peers per namespace (see nsName).
	NSSize int
	// NodeOf is the node peer i connects to; nil is the swarm's node.
	NodeOf func(i int) peer.AddrInfo
	// Progress shows the ramp and the closing.
	Progress *Progress
}

// population is a scenario's live peers: ramped up at its start, changed by
// the scenario (churn), and closed at its end.
type population struct {
	s    *swarm
	o    rampOptions
	took time.Duration // the ramp's

	mu    sync.Mutex
	peers []*livePeer

	closeOnce sync.Once
}

// rampUp starts one peer per key on s. The population is returned even with
// an error (no peer came up): the caller defers its close first.
func rampUp(ctx context.Context, s *swarm, keys []crypto.PrivKey, o rampOptions) (*population, error) {
	if o.NodeOf == nil {
		o.NodeOf = func(int) peer.AddrInfo { return s.node }
	}
	p := &population{s: s, o: o}
	t0 := time.Now()
	rp := o.Progress.Count("ramp", len(keys), "peers")
	nsOf := func(i int) string { return nsName(i, o.NSSize) }
	p.peers = s.rampOn(ctx, keys, o.Concurrency, nsOf, o.NodeOf, o.StepTimeout, rp)
	rp.Done()
	p.took = time.Since(t0)
	if len(p.peers) == 0 {
		return p, fmt.Errorf("%w: %v", errNoPeers, s.FirstError())
	}
	return p, nil
}

// live is the peers up now.
func (p *population) live() []*livePeer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peers
}

// size is the number of peers up now.
func (p *population) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.peers)
}

// removeRandom takes one peer, chosen at random, out of the population
// (nil when it is empty); the caller stops it.
func (p *population) removeRandom() *livePeer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.peers) == 0 {
		return nil
	}
	i := mrand.IntN(len(p.peers))
	gone := p.peers[i]
	p.peers[i] = p.peers[len(p.peers)-1]
	p.peers = p.peers[:len(p.peers)-1]
	return gone
}

// removeWhere takes every peer for which f holds out of the population and
// returns them; the caller stops them.
func (p *population) removeWhere(f func(*livePeer) bool) []*livePeer {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gone []*livePeer
	kept := p.peers[:0]
	for _, lp := range p.peers {
		if f(lp) {
			gone = append(gone, lp)
		} else {
			kept = append(kept, lp)
		}
	}
	clear(p.peers[len(kept):])
	p.peers = kept
	return gone
}

// add puts a peer that came up later into the population.
func (p *population) add(lp *livePeer) {
	p.mu.Lock()
	p.peers = append(p.peers, lp)
	p.mu.Unlock()
}

// close disconnects every live peer and waits for their views to end; only
// the first call does anything.
func (p *population) close() {
	p.closeOnce.Do(func() {
		peers := p.live()
		cp := p.o.Progress.Count("closing", len(peers), "peers")
		p.s.closeAll(peers, p.o.Concurrency, cp)
		cp.Done()
	})
}

// reportRamp adds the ramp's rows: peers up and failed, time, rate and the
// per-peer start-up latencies.
func (p *population) reportRamp(r *Report) {
	s, up, took := p.s, p.size(), p.took
	r.add("peers connected", float64(up), "peers")
	f := r.add("peers failed", float64(s.failures.Load()), "peers")
	if err := s.FirstError(); err != nil {
		f.note("first: " + oneLine(err))
	}
	r.add("ramp time", took.Seconds(), "s")
	r.add("ramp rate", float64(up)/took.Seconds(), "peers/s")
	r.addQuantiles("connect+reserve+join", &s.total)
	r.addQuantiles("  connect (incl. identify)", &s.connect)
	r.addQuantiles("  reserve", &s.reserve)
	r.addQuantiles("  join", &s.join)
}
