package node

import (
	"net/netip"
	"strconv"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/internal/netaddr"
)

// addrPolicy decides what the node advertises (identify, signed records,
// relay reservations, the live protocol's circuit addresses).
type addrPolicy struct {
	announce        []ma.Multiaddr
	noAnnounce      []ma.Multiaddr // exact addresses
	noAnnounceNets  []netip.Prefix
	announcePrivate bool
}

func newAddrPolicy(announce, noAnnounce []ma.Multiaddr, announcePrivate bool) *addrPolicy {
	p := &addrPolicy{announce: announce, announcePrivate: announcePrivate}
	for _, a := range noAnnounce {
		// /ip4/10.0.0.0/ipcidr/8 style entries filter whole subnets.
		if pfx, ok := cidrOf(a); ok {
			p.noAnnounceNets = append(p.noAnnounceNets, pfx)
			continue
		}
		p.noAnnounce = append(p.noAnnounce, a)
	}
	return p
}

// filter is a libp2p.AddrsFactory. Announced addresses replace the listen
// addresses. Without them, a node that has public addresses advertises only
// those (unless announce_private), while a node with none (loopback or LAN
// deployment) advertises what it has, since that is all a peer can dial.
func (p *addrPolicy) filter(addrs []ma.Multiaddr) []ma.Multiaddr {
	src := addrs
	if len(p.announce) > 0 {
		src = p.announce
	}
	out := make([]ma.Multiaddr, 0, len(src))
	for _, a := range src {
		if !p.blocked(a) {
			out = append(out, a)
		}
	}
	if len(p.announce) > 0 || p.announcePrivate {
		return out
	}
	public := out[:0:0]
	for _, a := range out {
		if manet.IsPublicAddr(a) {
			public = append(public, a)
		}
	}
	if len(public) > 0 {
		return public
	}
	return out
}

func (p *addrPolicy) blocked(a ma.Multiaddr) bool {
	for _, b := range p.noAnnounce {
		if a.Equal(b) {
			return true
		}
	}
	return netaddr.InAny(a, p.noAnnounceNets)
}

// cidrOf reads /ip4/<ip>/ipcidr/<bits> (or /ip6/...) as a prefix.
func cidrOf(a ma.Multiaddr) (netip.Prefix, bool) {
	if len(a) != 2 || a[1].Protocol().Code != ma.P_IPCIDR {
		return netip.Prefix{}, false
	}
	ip, err := netip.ParseAddr(a[0].Value())
	if err != nil {
		return netip.Prefix{}, false
	}
	bits, err := strconv.Atoi(a[1].Value())
	if err != nil {
		return netip.Prefix{}, false
	}
	pfx, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return pfx, true
}
