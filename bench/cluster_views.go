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
	s.mu.Lock()
	defer s.mu.Unlock()
	short := 0
	for _, set := range s.byNS {
		for p := range set {
			p.mu.Lock()
			if !p.ended && p.view.Len() < min(p.max, len(set)-1) {
				short++
			}
			p.mu.Unlock()
		}
	}
	return short
}

// stillShown counts the views that show any of ids.
func (s *swarm) stillShown(ids map[peer.ID]struct{}) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, set := range s.byNS {
		for w := range set {
			w.mu.Lock()
			for id := range ids {
				if !w.ended && w.view.Has(id) {
					n++
				}
			}
			w.mu.Unlock()
		}
	}
	return n
}
