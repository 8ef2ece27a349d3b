package wsstar

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/ws-star/rendezvous/registry"
)

// A peer's membership of a namespace is what its announcing views want: it
// is a member while at least one of its views of the namespace announces.
// The registry is told under the peer's own write lock and never under s.mu,
// so a slow write (a JetStream round trip, a leader election) holds up the
// stream that asked for it and later writes of the same peer, nothing else.
// Each write is decided from the state at the time it runs (wanted vs held),
// so writes of one peer cannot overtake one another: a leave that waited
// does not undo a later join.

// peerState is kept while a peer is connected and has opened a stream, and
// while a write of its membership runs.
type peerState struct {
	streams int
	limiter *rate.Limiter
	// announces counts, per namespace, the peer's announcing views over all
	// its streams: the membership it wants.
	announces map[string]int
	// held is the membership the registry holds for it, as last written.
	held map[string]bool
	// askedRecord: the node has asked the peer for its record (once).
	askedRecord bool
	// writes counts the membership writes running or waiting for writeMu.
	writes int

	// writeMu orders this peer's registry writes. It is taken before s.mu,
	// never while holding it.
	writeMu sync.Mutex
}

// peerLocked returns p's state, creating it; it runs under s.mu.
func (s *Service) peerLocked(p peer.ID) *peerState {
	ps := s.peers[p]
	if ps == nil {
		ps = &peerState{
			limiter:   rate.NewLimiter(rate.Limit(s.cfg.lim.JoinRate), s.cfg.lim.JoinBurst),
			announces: make(map[string]int),
			held:      make(map[string]bool),
		}
		s.peers[p] = ps
	}
	return ps
}

// forgetPeerLocked drops p's state once nothing needs it: no stream, no
// write, no connection. Its join rate bucket outlives its streams while it
// stays connected. It runs under s.mu.
func (s *Service) forgetPeerLocked(p peer.ID, ps *peerState) {
	if ps.streams == 0 && ps.writes == 0 && s.peers[p] == ps &&
		s.h.Network().Connectedness(p) != network.Connected {
		delete(s.peers, p)
	}
}

// syncMembership brings the registry in line with what p's views want in
// ns: it registers p if a view announces and the registry does not hold it
// (or refresh asks for the addresses and record to be written again), and
// unregisters it, with reason, if no view announces any more. The caller
// has counted the write in ps.writes under s.mu; syncMembership uncounts it.
func (s *Service) syncMembership(ps *peerState, p peer.ID, ns string, reason registry.LeftReason, refresh bool) error {
	ps.writeMu.Lock()
	defer ps.writeMu.Unlock()

	s.mu.Lock()
	want, held := ps.announces[ns] > 0, ps.held[ns]
	var r registry.Registration
	if want && (!held || refresh) {
		r = s.registrationLocked(ns, p)
	}
	s.mu.Unlock()

	var err error
	switch {
	case want && (!held || refresh):
		_, err = s.reg.Register(r)
		held = held || err == nil
	case !want && held:
		s.reg.Unregister(ns, p, registry.SourceLive, reason)
		held = false
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if held != ps.held[ns] {
		if held {
			ps.held[ns] = true
			s.mt.MembershipHeld(true)
		} else {
			delete(ps.held, ns)
			s.mt.MembershipHeld(false)
		}
	}
	ps.writes--
	s.forgetPeerLocked(p, ps)
	return err
}

// syncLater runs syncMembership on its own goroutine, for callers that must
// not wait for the registry (the feeder, the identify loop, Close). It runs
// under s.mu.
func (s *Service) syncLater(ps *peerState, p peer.ID, ns string, reason registry.LeftReason, refresh bool) {
	ps.writes++
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.syncMembership(ps, p, ns, reason, refresh); err != nil {
			s.log.Debug("membership write failed", "peer", p, "ns", ns, "err", err)
		}
	}()
}

// registrationLocked is p's live registration in ns: the addresses it is
// reachable at through this node and the record identify gave, if any.
func (s *Service) registrationLocked(ns string, p peer.ID) registry.Registration {
	r := registry.Registration{
		Namespace: ns,
		Peer:      p,
		Addrs:     s.announceAddrs(p),
		Source:    registry.SourceLive,
	}
	if rec, ok := s.records[p]; ok {
		r.Envelope, r.Format = rec.env, registry.FormatPeerRecord
	}
	return r
}
