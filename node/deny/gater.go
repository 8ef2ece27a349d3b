package deny

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/netaddr"
)

// The deny list as the host's connection gater: look-ups on the version
// in force, without a lock, and the rate-limited refusal log.

// Deny reasons: the reason label of rendezvous_denied_connections_total and
// the reason field of the refusal log line.
const (
	KindSubnet = "subnet"
	KindPeer   = "peer"
)

// prefixSet finds the subnet containing an address with one map look-up per
// distinct prefix length, whatever the number of subnets.
type prefixSet struct {
	bits []int // distinct prefix lengths, longest first
	set  map[netip.Prefix]struct{}
}

func newPrefixSet(ps ...[]netip.Prefix) prefixSet {
	s := prefixSet{set: make(map[netip.Prefix]struct{})}
	for _, list := range ps {
		for _, p := range list {
			s.set[p.Masked()] = struct{}{}
			if !slices.Contains(s.bits, p.Bits()) {
				s.bits = append(s.bits, p.Bits())
			}
		}
	}
	slices.Sort(s.bits)
	slices.Reverse(s.bits)
	return s
}

// match returns the denied subnet holding ip, if any.
func (s *prefixSet) match(ip netip.Addr) (netip.Prefix, bool) {
	ip = ip.Unmap()
	for _, b := range s.bits {
		if p, err := ip.Prefix(b); err == nil {
			if _, ok := s.set[p]; ok {
				return p, true
			}
		}
	}
	return netip.Prefix{}, false
}

// InterceptAccept refuses denied subnets before any handshake.
func (d *List) InterceptAccept(c network.ConnMultiaddrs) bool {
	ip, ok := netaddr.IP(c.RemoteMultiaddr())
	if !ok {
		return true
	}
	if pfx, hit := d.cur.Load().subnets.match(ip); hit {
		d.refuse(ip, KindSubnet, "subnet", pfx.String())
		return false
	}
	return true
}

// InterceptSecured refuses denied peers once the handshake proved who they
// are.
func (d *List) InterceptSecured(dir network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	if !d.cur.Load().peer(p) {
		return true
	}
	ip, _ := netaddr.IP(c.RemoteMultiaddr())
	d.refuse(ip, KindPeer, "peer", p.String())
	return false
}

// InterceptPeerDial and InterceptAddrDial keep the node from dialing what it
// refuses to accept.
func (d *List) InterceptPeerDial(p peer.ID) bool { return !d.cur.Load().peer(p) }

func (d *List) InterceptAddrDial(_ peer.ID, a ma.Multiaddr) bool {
	ip, ok := netaddr.IP(a)
	if !ok {
		return true
	}
	_, hit := d.cur.Load().subnets.match(ip)
	return !hit
}

func (d *List) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

// refuse counts a refusal and logs it, at most once per IP per window.
func (d *List) refuse(ip netip.Addr, reason, key, value string) {
	d.denied.WithLabelValues(reason).Inc()
	suppressed, ok := d.refusals.allow(ip, time.Now())
	if !ok {
		return
	}
	// The line's shape is fixed, for fail2ban (docs/admin.md): message,
	// then ip, then reason.
	d.log.Warn(refusalMessage, "ip", ip.String(), "reason", reason, key, value, "suppressed", suppressed)
}

// refusalMessage is the message of the refusal log line.
const refusalMessage = "connection denied"

// maxRefusalIPs bounds the IPs the refusal log remembers: a flood from more
// addresses is summed up in the suppressed count of later lines.
const maxRefusalIPs = 4096

// refusalLog allows one line per IP per window and counts the rest.
type refusalLog struct {
	window time.Duration
	max    int

	mu       sync.Mutex
	ips      map[netip.Addr]*ipRefusals
	overflow int // refusals from IPs that found the table full
}

type ipRefusals struct {
	last       time.Time
	suppressed int
}

func newRefusalLog(window time.Duration, max int) *refusalLog {
	return &refusalLog{window: window, max: max, ips: make(map[netip.Addr]*ipRefusals)}
}

// allow reports whether a refusal from ip may be logged now, and the number
// of refusals left unlogged since the last line it allowed (for ip, plus
// those no IP could be remembered for).
func (l *refusalLog) allow(ip netip.Addr, now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.ips[ip]
	if r != nil && now.Sub(r.last) < l.window {
		r.suppressed++
		return 0, false
	}
	if r == nil {
		if len(l.ips) >= l.max {
			for k, v := range l.ips {
				if now.Sub(v.last) >= l.window {
					l.overflow += v.suppressed
					delete(l.ips, k)
				}
			}
		}
		if len(l.ips) >= l.max {
			l.overflow++
			return 0, false
		}
		r = &ipRefusals{}
		l.ips[ip] = r
	}
	suppressed = r.suppressed + l.overflow
	r.last, r.suppressed, l.overflow = now, 0, 0
	return suppressed, true
}
