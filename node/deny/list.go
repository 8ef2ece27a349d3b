// Package deny is the node's deny list: peers and subnets refused as the
// host's connection gater (subnets at accept, before any handshake; peers
// once their identity is known), from the configuration, a file the operator
// edits and the admin API's bans, which it writes to that file. It is a
// package of its own because it is a whole concern with its own state, file
// watch and metrics, which the node only wires in.
package deny

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/netaddr"
)

// Errors of the deny list's mutations; the admin API maps them to statuses.
var (
	ErrConfigured = errors.New("set in the node's configuration (deny.peers or deny.subnets): remove it there")
	ErrNotFound   = errors.New("no such entry in the deny list")
	errEntry      = errors.New("neither a peer ID nor a CIDR subnet such as 10.0.0.0/8")
)

// set is one immutable version of what is denied, read without a lock
// by the gater on every connection.
type set struct {
	peers   map[peer.ID]struct{}
	subnets prefixSet
}

func (s *set) peer(p peer.ID) bool { _, ok := s.peers[p]; return ok }

// Denied reports whether p is denied now.
func (d *List) Denied(p peer.ID) bool { return d.cur.Load().peer(p) }

// DeniedIP reports whether ip is in a denied subnet.
func (d *List) DeniedIP(ip netip.Addr) bool {
	_, hit := d.cur.Load().subnets.match(ip)
	return hit
}

// List is the node's deny list: the configured lists, which only a
// restart changes, plus the file's, which the admin API and the operator's
// editor change. It is the host's connection gater.
type List struct {
	log      *slog.Logger
	refusals *refusalLog
	denied   *prometheus.CounterVec
	path     string

	cfgPeers   map[peer.ID]struct{}
	cfgSubnets []netip.Prefix

	cur atomic.Pointer[set]
	net atomic.Pointer[network.Network] // set once the host exists

	mu    sync.Mutex // serialises changes of file and stamp
	file  config.DenyList
	stamp fileStamp

	stop chan struct{}
	done chan struct{}
}

var _ connmgr.ConnectionGater = (*List)(nil)

// New loads the configured lists and deny.file; reg may be nil.
func New(c config.Deny, log *slog.Logger, reg prometheus.Registerer) (*List, error) {
	peers, err := config.ParsePeerIDs("deny.peers", c.Peers)
	if err != nil {
		return nil, err
	}
	subnets, err := config.ParseSubnets("deny.subnets", c.Subnets)
	if err != nil {
		return nil, err
	}
	d := &List{
		log:        log,
		refusals:   newRefusalLog(time.Minute, maxRefusalIPs),
		path:       c.File,
		cfgPeers:   make(map[peer.ID]struct{}, len(peers)),
		cfgSubnets: subnets,
		file:       config.DenyList{Peers: []string{}, Subnets: []string{}},
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_denied_connections_total",
			Help: "Connections refused by the deny list, by reason (subnet: at accept; peer: after the security handshake).",
		}, []string{"reason"}),
	}
	for _, p := range peers {
		d.cfgPeers[p] = struct{}{}
	}
	d.denied.WithLabelValues(KindSubnet)
	d.denied.WithLabelValues(KindPeer)
	if d.path != "" {
		d.stamp = statFile(d.path)
		l, err := config.LoadDenyFile(d.path)
		if err != nil {
			return nil, err
		}
		d.file = l
	}
	d.rebuild()
	if reg != nil {
		if err := reg.Register(d.denied); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Start binds the list to the host's network, closes what is denied
// already, and watches deny.file. Close stops the watch.
func (d *List) Start(n network.Network) {
	d.net.Store(&n)
	d.sweep()
	if d.path == "" {
		return
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go d.watch()
}

func (d *List) Close() error {
	if d.stop != nil {
		close(d.stop)
		<-d.done
	}
	return nil
}

// rebuild publishes the union of the configured lists and the file's. The
// file's entries were checked when it was loaded or changed.
func (d *List) rebuild() {
	s := &set{peers: make(map[peer.ID]struct{}, len(d.cfgPeers)+len(d.file.Peers))}
	for p := range d.cfgPeers {
		s.peers[p] = struct{}{}
	}
	for _, str := range d.file.Peers {
		if p, err := config.ParsePeerID(str); err == nil {
			s.peers[p] = struct{}{}
		}
	}
	fileSubnets := make([]netip.Prefix, 0, len(d.file.Subnets))
	for _, str := range d.file.Subnets {
		if p, err := config.ParseSubnet(str); err == nil {
			fileSubnets = append(fileSubnets, p)
		}
	}
	s.subnets = newPrefixSet(d.cfgSubnets, fileSubnets)
	d.cur.Store(s)
}

// sweep closes every connection the list now denies and returns how many.
func (d *List) sweep() int {
	np := d.net.Load()
	if np == nil {
		return 0
	}
	s := d.cur.Load()
	closed := 0
	for _, c := range (*np).Conns() {
		hit := s.peer(c.RemotePeer())
		if !hit {
			if ip, ok := netaddr.IP(c.RemoteMultiaddr()); ok {
				_, hit = s.subnets.match(ip)
			}
		}
		if hit {
			_ = c.Close()
			closed++
		}
	}
	if closed > 0 {
		// One line, not one per connection: a subnet ban may close thousands.
		d.log.Info("deny list: closed denied connections", "connections", closed)
	}
	return closed
}

// Entry is one entry as the admin API shows it.
type Entry struct {
	Entry  string `json:"entry"`
	Kind   string `json:"kind"`   // "peer" or "subnet"
	Source string `json:"source"` // "config" or "file" (the admin API's)
}

// ParseEntry reads a peer ID or a CIDR subnet into its canonical form.
func ParseEntry(s string) (entry, kind string, err error) {
	pfx, serr := config.ParseSubnet(s)
	if serr == nil {
		return pfx.String(), KindSubnet, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return "", "", fmt.Errorf("an address, not a subnet: write %s", netip.PrefixFrom(ip, ip.BitLen()))
	}
	if strings.Contains(s, "/") {
		return "", "", serr
	}
	p, err := config.ParsePeerID(s)
	if err != nil {
		return "", "", errEntry
	}
	return p.String(), KindPeer, nil
}

// Entries lists every entry, configured ones first.
func (d *List) Entries() []Entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Entry
	cfgPeers := make([]string, 0, len(d.cfgPeers))
	for p := range d.cfgPeers {
		cfgPeers = append(cfgPeers, p.String())
	}
	slices.Sort(cfgPeers)
	for _, p := range cfgPeers {
		out = append(out, Entry{p, KindPeer, "config"})
	}
	for _, p := range d.cfgSubnets {
		out = append(out, Entry{p.String(), KindSubnet, "config"})
	}
	for _, p := range d.file.Peers {
		out = append(out, Entry{p, KindPeer, "file"})
	}
	for _, p := range d.file.Subnets {
		out = append(out, Entry{p, KindSubnet, "file"})
	}
	return out
}

// configured reports whether entry (canonical) is in the configured lists.
func (d *List) configured(entry, kind string) bool {
	if kind == KindPeer {
		p, _ := peer.Decode(entry)
		_, ok := d.cfgPeers[p]
		return ok
	}
	return slices.ContainsFunc(d.cfgSubnets, func(p netip.Prefix) bool { return p.String() == entry })
}

// Add denies entry (canonical), writes deny.file, and closes the
// connections it now denies. It reports whether the entry is new and how
// many connections it closed.
func (d *List) Add(entry, kind string) (added bool, closed int, err error) {
	d.mu.Lock()
	list := &d.file.Peers
	if kind == KindSubnet {
		list = &d.file.Subnets
	}
	if d.configured(entry, kind) || slices.Contains(*list, entry) {
		d.mu.Unlock()
		return false, d.sweep(), nil
	}
	next := d.file
	if kind == KindSubnet {
		next.Subnets = append(slices.Clone(d.file.Subnets), entry)
	} else {
		next.Peers = append(slices.Clone(d.file.Peers), entry)
	}
	if err := d.persistLocked(next); err != nil {
		d.mu.Unlock()
		return false, 0, err
	}
	d.mu.Unlock()
	d.log.Warn("deny list: entry added", "entry", entry, "kind", kind)
	return true, d.sweep(), nil
}

// Remove lifts a ban made through the file or the admin API.
func (d *List) Remove(entry, kind string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.configured(entry, kind) {
		return ErrConfigured
	}
	next := d.file
	if kind == KindSubnet {
		i := slices.Index(next.Subnets, entry)
		if i < 0 {
			return ErrNotFound
		}
		next.Subnets = slices.Delete(slices.Clone(next.Subnets), i, i+1)
	} else {
		i := slices.Index(next.Peers, entry)
		if i < 0 {
			return ErrNotFound
		}
		next.Peers = slices.Delete(slices.Clone(next.Peers), i, i+1)
	}
	if err := d.persistLocked(next); err != nil {
		return err
	}
	d.log.Warn("deny list: entry removed", "entry", entry, "kind", kind)
	return nil
}

// persistLocked writes next to deny.file (when there is one) and makes it
// the list in force.
func (d *List) persistLocked(next config.DenyList) error {
	if d.path != "" {
		if err := config.WriteDenyFile(d.path, next); err != nil {
			return err
		}
		d.stamp = statFile(d.path)
	}
	d.file = next
	d.rebuild()
	return nil
}

// Persistent reports whether bans are written to a file.
func (d *List) Persistent() bool { return d.path != "" }
