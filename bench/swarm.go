package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"

	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// livePeer is one simulated browser: a non-listening host connected to the
// node, holding a relay reservation and a /ws-star/1.0.0 stream on which it
// joined one namespace with announce.
type livePeer struct {
	id     peer.ID
	node   peer.ID // the node it is connected to
	h      host.Host
	c      *wsstar.Client
	ns     string
	joined time.Time // when its Join was sent

	view *wsstar.View // what its view shows now

	mu    sync.Mutex
	max   int
	ended bool // the node closed the view
}

// shows reports whether the view is open and shows member id.
func (p *livePeer) shows(id peer.ID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.ended && p.view.Has(id)
}

// hasRoom reports whether the node must offer the next joiner to this view:
// a view has room while it shows fewer members than its size.
func (p *livePeer) hasRoom() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.ended && p.view.Len() < p.max
}

// probe waits for one joiner to reach every view that had room when it
// joined.
type probe struct {
	id     peer.ID
	expect map[*livePeer]struct{}
	last   time.Time
	done   chan struct{}
}

// swarm holds the simulated peers and times membership events as the views
// report them.
type swarm struct {
	node peer.AddrInfo
	// transport is what every peer dials the node over (ws when empty).
	transport Transport

	mu      sync.Mutex
	byNS    map[string]map[*livePeer]struct{}
	joinAt  map[peer.ID]time.Time // Join sent, for peers whose events are timed
	leaveAt map[peer.ID]time.Time // leave started
	probe   *probe
	// observe, when set, is called under mu for every change a view shows
	// after the swarm's own bookkeeping.
	observe func(w *livePeer, e seen, now time.Time)

	connect, reserve, join, total Latencies // per peer start-up
	joinEvents, leaveEvents       Latencies // per (event, view)

	overflows   atomic.Int64
	closedViews atomic.Int64
	// dupJoined and dupLeft count events a view should never get: a JOINED
	// for a member it shows, a LEFT for one it does not.
	dupJoined, dupLeft atomic.Int64
	failures           atomic.Int64
	errMu              sync.Mutex
	firstErr           error

	consumers sync.WaitGroup
}

func newSwarm(node peer.AddrInfo) *swarm {
	return &swarm{
		node:    node,
		byNS:    make(map[string]map[*livePeer]struct{}),
		joinAt:  make(map[peer.ID]time.Time),
		leaveAt: make(map[peer.ID]time.Time),
	}
}

func (s *swarm) fail(err error) {
	s.failures.Add(1)
	s.errMu.Lock()
	if s.firstErr == nil {
		s.firstErr = err
	}
	s.errMu.Unlock()
}

// FirstError is the first start-up failure, nil if none.
func (s *swarm) FirstError() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.firstErr
}

// start brings one peer up: connect, reserve, join. timed records its Join
// time so that the views' JOINED events for it are timed.
func (s *swarm) start(ctx context.Context, key crypto.PrivKey, ns string, timed bool) (*livePeer, error) {
	return s.startOn(ctx, s.node, key, ns, timed)
}

// startOn is start on a given node (one of a cluster's).
func (s *swarm) startOn(ctx context.Context, node peer.AddrInfo, key crypto.PrivKey, ns string, timed bool) (*livePeer, error) {
	t0 := time.Now()
	h, err := newPeerOn(key, false, yamux.DefaultTransport, s.transport)
	if err != nil {
		return nil, err
	}
	p := &livePeer{id: h.ID(), node: node.ID, h: h, ns: ns, view: wsstar.NewView(ns)}
	fail := func(step string, err error) (*livePeer, error) {
		_ = h.Close()
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	if err := connect(ctx, h, node); err != nil {
		return fail("connect", err)
	}
	t1 := time.Now()
	if _, err := client.Reserve(ctx, h, node); err != nil {
		return fail("reserve", err)
	}
	t2 := time.Now()
	c, err := wsstar.Dial(ctx, h, node.ID)
	if err != nil {
		return fail("open ws-star stream", err)
	}
	p.c = c
	s.consumers.Add(1)
	go s.consume(p)
	p.joined = time.Now()
	if timed {
		s.mu.Lock()
		s.joinAt[p.id] = p.joined
		s.mu.Unlock()
	}
	res, err := c.Join(ctx, ns, true, 0)
	if err != nil {
		return fail("join", err)
	}
	t3 := time.Now()
	p.mu.Lock()
	p.max = int(res.MaxPeers)
	p.mu.Unlock()
	s.connect.Add(t1.Sub(t0))
	s.reserve.Add(t2.Sub(t1))
	s.join.Add(t3.Sub(t2))
	s.total.Add(t3.Sub(t0))

	s.mu.Lock()
	set := s.byNS[ns]
	if set == nil {
		set = make(map[*livePeer]struct{})
		s.byNS[ns] = set
	}
	set[p] = struct{}{}
	s.mu.Unlock()
	return p, nil
}

// stop disconnects p, as a closed browser tab would; timed records the time
// so that the views' LEFT events for it are timed.
func (s *swarm) stop(p *livePeer, timed bool) {
	s.mu.Lock()
	delete(s.byNS[p.ns], p)
	if timed {
		s.leaveAt[p.id] = time.Now()
	}
	s.mu.Unlock()
	_ = p.h.Close()
}

type seen struct {
	p      peer.ID
	left   bool
	reason pb.LeftReason // of a LEFT
}

// consume tracks p's view. It never blocks on the swarm lock while holding
// p's, so probes may inspect views under the swarm lock.
func (s *swarm) consume(p *livePeer) {
	defer s.consumers.Done()
	var batch []seen
	for m := range p.c.C() {
		now := time.Now()
		switch m := m.(type) {
		case *wsstar.Update:
			if !m.Snapshot && m.NS == p.ns {
				s.countDuplicates(p, m)
			}
			changes := p.view.Apply(m)
			if m.Snapshot {
				// Members a snapshot brings are not joins, and those it
				// drops left without a LEFT.
				continue
			}
			batch = batch[:0]
			for _, e := range changes {
				switch e.Kind {
				case pb.PeerEvent_JOINED:
					batch = append(batch, seen{p: e.Peer})
				case pb.PeerEvent_LEFT:
					batch = append(batch, seen{p: e.Peer, left: true, reason: e.Reason})
				}
			}
			if len(batch) > 0 {
				s.saw(p, batch, now)
			}
		case *wsstar.Closed:
			p.mu.Lock()
			p.ended = true
			p.mu.Unlock()
			s.closedViews.Add(1)
			if m.Reason == pb.Closed_OVERFLOW {
				s.overflows.Add(1)
			}
		}
	}
}

// countDuplicates counts the events of u that repeat what p's view shows,
// before u is applied (one update may join and leave the same member).
func (s *swarm) countDuplicates(p *livePeer, u *wsstar.Update) {
	shown := map[peer.ID]bool{}
	for _, e := range u.Events {
		was, ok := shown[e.Peer]
		if !ok {
			was = p.view.Has(e.Peer)
		}
		switch e.Kind {
		case pb.PeerEvent_JOINED:
			if was {
				s.dupJoined.Add(1)
			}
			shown[e.Peer] = true
		case pb.PeerEvent_LEFT:
			if !was {
				s.dupLeft.Add(1)
			}
			shown[e.Peer] = false
		}
	}
}

func (s *swarm) saw(w *livePeer, batch []seen, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range batch {
		if s.observe != nil {
			s.observe(w, e, now)
		}
		if e.left {
			if t, ok := s.leaveAt[e.p]; ok {
				s.leaveEvents.Add(now.Sub(t))
			}
			continue
		}
		// Only joins after the watcher's own: earlier members reach it in
		// its snapshot or through refills, which are not join latency.
		if t, ok := s.joinAt[e.p]; ok && t.After(w.joined) {
			s.joinEvents.Add(now.Sub(t))
		}
		if pr := s.probe; pr != nil && pr.id == e.p {
			if _, ok := pr.expect[w]; ok {
				delete(pr.expect, w)
				if len(pr.expect) == 0 {
					pr.last = now
					close(pr.done)
				}
			}
		}
	}
}

// runProbe joins one more peer to ns and returns the time from its Join until
// the last view that had room showed it, and how many views that had room
// did not show it within timeout.
func (s *swarm) runProbe(ctx context.Context, key crypto.PrivKey, ns string, timeout time.Duration) (lat time.Duration, expected, missing int, err error) {
	return s.runProbeOn(ctx, s.node, key, ns, timeout, nil)
}

// runProbeOn is runProbe with the probe joining on node and, when watch is
// set, only the views it accepts waited for.
func (s *swarm) runProbeOn(ctx context.Context, node peer.AddrInfo, key crypto.PrivKey, ns string, timeout time.Duration, watch func(*livePeer) bool) (lat time.Duration, expected, missing int, err error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return 0, 0, 0, err
	}
	pr := &probe{id: id, expect: make(map[*livePeer]struct{}), done: make(chan struct{})}
	s.mu.Lock()
	for w := range s.byNS[ns] {
		if w.hasRoom() && (watch == nil || watch(w)) {
			pr.expect[w] = struct{}{}
		}
	}
	expected = len(pr.expect)
	if expected == 0 {
		close(pr.done)
	}
	s.probe = pr
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.probe = nil
		s.mu.Unlock()
	}()

	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := s.startOn(pctx, node, key, ns, true)
	if err != nil {
		return 0, expected, expected, err
	}
	defer s.stop(p, false)
	select {
	case <-pr.done:
	case <-pctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range pr.expect {
		// A watcher that left meanwhile (churn) could not see it.
		if _, live := s.byNS[w.ns][w]; live {
			missing++
		}
	}
	if expected == 0 || missing > 0 {
		return -1, expected, missing, nil
	}
	return pr.last.Sub(p.joined), expected, 0, nil
}

// rampOn starts one peer per key with at most conc start-ups in flight,
// peer i joining nsOf(i) on nodeOf(i), counting them on prog. It returns the
// peers that came up.
func (s *swarm) rampOn(ctx context.Context, keys []crypto.PrivKey, conc int, nsOf func(int) string, nodeOf func(int) peer.AddrInfo, timeout time.Duration, prog *Task) []*livePeer {
	out := make([]*livePeer, len(keys))
	forEach(len(keys), conc, func(i int) {
		if ctx.Err() != nil {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		p, err := s.startOn(pctx, nodeOf(i), keys[i], nsOf(i), false)
		cancel()
		if err != nil {
			s.fail(err)
			prog.Fail()
			return
		}
		out[i] = p
		prog.Add(1)
	})
	up := out[:0]
	for _, p := range out {
		if p != nil {
			up = append(up, p)
		}
	}
	return up
}

// closeAll disconnects every peer, conc at a time, counting them on prog,
// and waits for their consumers to end.
func (s *swarm) closeAll(peers []*livePeer, conc int, prog *Task) {
	ch := make(chan *livePeer)
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				s.stop(p, false)
				prog.Add(1)
			}
		}()
	}
	for _, p := range peers {
		ch <- p
	}
	close(ch)
	wg.Wait()
	s.consumers.Wait()
}

var errNoPeers = errors.New("bench: no peer could connect, reserve and join")

// forEach runs f(0..n-1) with at most conc calls in flight.
func forEach(n, conc int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}
