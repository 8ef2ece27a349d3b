package rendezvous

import (
	"net/netip"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/registry"
)

// sources counts the registrations taken from each source address (an IPv4
// address or an IPv6 /56, as the resource manager's per-IP caps): a
// registration outlives the connection that made it, so without this cap
// fresh peer IDs from one address could fill the registry and keep it full
// after they left.
type sources struct {
	max    int
	exempt []netip.Prefix

	mu    sync.Mutex
	count map[netip.Prefix]int
	held  map[nsPeer]netip.Prefix
}

type nsPeer struct {
	ns string
	p  peer.ID
}

func newSources(max int, exempt []netip.Prefix) *sources {
	return &sources{
		max:    max,
		exempt: exempt,
		count:  make(map[netip.Prefix]int),
		held:   make(map[nsPeer]netip.Prefix),
	}
}

// sourceOf is the source a connection's registrations count against; false
// for exempt addresses and connections without an IP (none is capped then).
func (s *sources) sourceOf(c network.Conn) (netip.Prefix, bool) {
	ip, err := manet.ToIP(c.RemoteMultiaddr())
	if err != nil {
		return netip.Prefix{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap()
	for _, p := range s.exempt {
		if p.Contains(addr) {
			return netip.Prefix{}, false
		}
	}
	bits := 32
	if addr.Is6() {
		bits = 56
	}
	src, _ := addr.Prefix(bits)
	return src, true
}

// take counts p's registration in ns against src. It reports false when src
// is at the cap; added is true when the registration was not counted before
// (the caller gives it back with undo if the registry then refuses it).
func (s *sources) take(src netip.Prefix, ns string, p peer.ID) (ok, added bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := nsPeer{ns, p}
	if _, dup := s.held[k]; dup {
		return true, false // a refresh keeps the source it was counted against
	}
	if s.count[src] >= s.max {
		return false, false
	}
	s.held[k] = src
	s.count[src]++
	return true, true
}

// release gives back the count of p's registration in ns, if it had one.
func (s *sources) release(ns string, p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := nsPeer{ns, p}
	src, ok := s.held[k]
	if !ok {
		return
	}
	delete(s.held, k)
	if s.count[src]--; s.count[src] <= 0 {
		delete(s.count, src)
	}
}

// onEvent releases members that left, however they left (expiry,
// UNREGISTER, presence drop, a live hold ending). It runs inside the
// registry's delivery and only takes s.mu.
func (s *sources) onEvent(ev registry.Event) {
	if ev.Kind == registry.Left {
		s.release(ev.Reg.Namespace, ev.Reg.Peer)
	}
}
