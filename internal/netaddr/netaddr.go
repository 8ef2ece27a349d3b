// Package netaddr reads the IP address out of a multiaddr, for the checks
// that compare a peer's address with configured subnets (deny list, relay
// ACL, announce filters).
package netaddr

import (
	"net/netip"

	"github.com/libp2p/go-libp2p/core/peer"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// IP returns the IP address of a, IPv4-mapped IPv6 addresses as IPv4; false
// when a is nil or has no IP.
func IP(a ma.Multiaddr) (netip.Addr, bool) {
	if a == nil {
		return netip.Addr{}, false
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return netip.Addr{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}

// InAny reports whether the IP of a lies in one of the prefixes.
func InAny(a ma.Multiaddr, prefixes []netip.Prefix) bool {
	if len(prefixes) == 0 {
		return false
	}
	ip, ok := IP(a)
	if !ok {
		return false
	}
	for _, pfx := range prefixes {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// WithoutPeer drops a trailing /p2p/<p> from a: protocols give a member's
// addresses without it, the member being named beside them.
func WithoutPeer(a ma.Multiaddr, p peer.ID) ma.Multiaddr {
	if rest, last := ma.SplitLast(a); last != nil && last.Code() == ma.P_P2P && len(rest) > 0 {
		if id, err := peer.IDFromBytes(last.RawValue()); err == nil && id == p {
			return rest
		}
	}
	return a
}
