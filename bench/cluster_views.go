package bench

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// What the live peers' views show across the nodes, for the convergence
// and leaver checks.

// peersPerNode counts the live peers connected to each node.
func (s *swarm) peersPerNode() map[peer.ID]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[peer.ID]int)
	for _, set := range s.byNS {
		for p := range set {
			out[p.node]++
		}
	}
	return out
}

// converge waits until every view shows all other members of its namespace
// (up to its size) and returns how long that took and, on timeout, how many
// views were still short.
func (s *swarm) converge(ctx context.Context, timeout time.Duration) (time.Duration, int) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		short := s.shortViews()
		if short == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(start), short
		}
		_ = sleep(ctx, 50*time.Millisecond)
	}
}

func (s *swarm) shortViews() int {
	return s.countViews(func(w *livePeer, nsSize int) int {
		if !w.ended && w.view.Len() < min(w.max, nsSize-1) {
			return 1
		}
		return 0
	})
}

// stillShown counts the views that show any of ids.
func (s *swarm) stillShown(ids map[peer.ID]struct{}) int {
	return s.countViews(func(w *livePeer, _ int) int {
		n := 0
		for id := range ids {
			if !w.ended && w.view.Has(id) {
				n++
			}
		}
		return n
	})
}

// countViews sums count over the live peers' views, each called under the
// swarm's lock and the peer's with the size of the peer's namespace.
func (s *swarm) countViews(count func(w *livePeer, nsSize int) int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, set := range s.byNS {
		for w := range set {
			w.mu.Lock()
			n += count(w, len(set))
			w.mu.Unlock()
		}
	}
	return n
}
