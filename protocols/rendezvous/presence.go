package rendezvous

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

// presenceTimer is a pending presence drop; the pointer identifies it so a
// stale timer firing after a reconnect and new disconnect does nothing.
type presenceTimer struct{ t *time.Timer }

// relayOnly reports whether every address reaches the peer through relay
// (contains /p2p/<relay>/p2p-circuit). Such a peer is reachable only while it
// is connected to the relay, so its registration is bound to that presence.
func relayOnly(addrs []ma.Multiaddr, relay peer.ID) bool {
	if len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !viaRelay(a, relay) {
			return false
		}
	}
	return true
}

func viaRelay(a ma.Multiaddr, relay peer.ID) bool {
	for i := 0; i+1 < len(a); i++ {
		if a[i].Code() != ma.P_P2P || a[i+1].Code() != ma.P_CIRCUIT {
			continue
		}
		if id, err := peer.IDFromBytes(a[i].RawValue()); err == nil && id == relay {
			return true
		}
	}
	return false
}

// bindPresence records whether p's registration in ns is bound to its
// presence. A peer registering while already disconnected gets its timer now.
func (s *Service) bindPresence(p peer.ID, ns string, bound bool) {
	if !s.cfg.lim.PresenceBinding {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	set := s.bound[p]
	if !bound {
		if set != nil {
			delete(set, ns)
			if len(set) == 0 {
				delete(s.bound, p)
			}
		}
		return
	}
	if set == nil {
		set = make(map[string]struct{})
		s.bound[p] = set
	}
	set[ns] = struct{}{}
	if len(set) > maxBoundPerPeer {
		s.pruneBoundLocked(p, set)
	}
	if !s.isConnected(p) {
		s.armPresenceLocked(p)
	}
}

// pruneBoundLocked forgets bound namespaces whose registration has expired
// meanwhile, so a peer that stays connected while its registrations come and
// go cannot grow the set without bound. The registry never calls back into
// the service, so asking it under s.mu cannot deadlock.
func (s *Service) pruneBoundLocked(p peer.ID, set map[string]struct{}) {
	for ns := range set {
		if _, ok := s.reg.Get(ns, p); !ok {
			delete(set, ns)
		}
	}
}

// armPresenceLocked starts p's presence timer if p has bound registrations
// and none is pending. s.mu must be held.
func (s *Service) armPresenceLocked(p peer.ID) {
	if !s.cfg.lim.PresenceBinding || len(s.bound[p]) == 0 || s.timers[p] != nil {
		return
	}
	pt := new(presenceTimer)
	pt.t = time.AfterFunc(s.cfg.lim.PresenceGrace.D(), func() { s.presenceExpired(p, pt) })
	s.timers[p] = pt
}

// presenceExpired drops p's relay-only registrations if p is still away.
func (s *Service) presenceExpired(p peer.ID, pt *presenceTimer) {
	s.mu.Lock()
	if s.closed || s.timers[p] != pt {
		s.mu.Unlock()
		return
	}
	delete(s.timers, p)
	if s.isConnected(p) {
		s.mu.Unlock()
		return
	}
	set := s.bound[p]
	delete(s.bound, p)
	s.mu.Unlock()

	for ns := range set {
		if s.reg.Unregister(ns, p, registry.SourceRendezvous, registry.ReasonDisconnected) {
			s.mt.PresenceDropped()
			s.log.Debug("presence drop", "peer", p, "ns", ns)
		}
	}
}
