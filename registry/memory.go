package registry

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// Memory is the in-process Registry. One mutex guards everything: every
// operation is O(log n) or bounded by its result size, so contention stays
// short, and a single lock gives events a total order (see Subscribe).
//
// Per member it keeps an entry reachable from four places: the namespace's
// member map (Get, Register), its member slice (Random: uniform sampling by
// index, swap-remove on delete), the namespace's and the global Seq logs
// (Discover paging, see seqLog), and the expiry heap while a TTL hold exists.
type Memory struct {
	limits    Limits
	policy    Policy
	log       *slog.Logger
	mt        MetricsTracer
	metricSet *promreg.Set // what Close unregisters; nil without a Registerer

	mu         sync.Mutex
	closed     bool
	seq        uint64
	namespaces map[string]*namespace
	peers      map[peer.ID]int // namespaces each peer is a member of
	total      int
	all        seqLog // every namespace, for Discover("")
	expiries   expiryHeap
	timer      *time.Timer
	armedAt    time.Time // expiry the timer is set for; zero when idle
	subs       map[string][]*subscription
	subCount   int

	cancelMu     sync.Mutex
	cancelled    []*subscription
	sweepPending atomic.Bool
}

var _ Registry = (*Memory)(nil)

type namespace struct {
	name    string
	members map[peer.ID]*entry
	list    []*entry
	log     seqLog
}

// entry is one member. Its Seq is 0 once removed, which is how the Seq logs
// recognise tombstones.
type entry struct {
	ns       *namespace
	peer     peer.ID
	addrs    []ma.Multiaddr
	envelope []byte
	format   RecordFormat
	ttl      bool      // a rendezvous hold exists, ending at expiry
	live     bool      // a live hold exists
	expiry   time.Time // zero unless ttl
	seq      uint64
	heapIdx  int // -1 when not in the expiry heap
	listIdx  int
	joined   int64 // Unix ns when the peer became a member, for operators (list.go)
}

// registration returns a copy the caller may keep and modify.
func (e *entry) registration() Registration {
	r := Registration{
		Namespace: e.ns.name,
		Peer:      e.peer,
		Addrs:     slices.Clone(e.addrs),
		Envelope:  bytes.Clone(e.envelope),
		Format:    e.format,
		Source:    SourceRendezvous,
		Seq:       e.seq,
	}
	if e.live {
		r.Source = SourceLive
	}
	if e.ttl {
		r.Expiry = e.expiry
	}
	return r
}

// Stats are the registry's counts, for status pages.
type Stats struct {
	Registrations int
	Namespaces    int
	Peers         int // distinct peers with at least one registration
	Subscriptions int
}

// New returns an empty registry. Close it to stop its expiry timer and to
// remove its metrics. It fails when the metrics cannot be registered with the
// WithRegisterer Registerer, as when another open registry uses it.
func New(opts ...Option) (*Memory, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	m := &Memory{
		limits:     o.limits,
		policy:     o.policy,
		log:        o.logger,
		namespaces: make(map[string]*namespace),
		peers:      make(map[peer.ID]int),
		subs:       make(map[string][]*subscription),
		mt:         nopTracer{},
		// Starting at the wall clock keeps cursors from an earlier run of
		// the node valid: they sort before everything registered now.
		seq: uint64(max(time.Now().UnixNano(), 0)),
	}
	if o.firstSeq != nil {
		m.seq = *o.firstSeq
	}
	if o.registerer != nil {
		t, err := newPromTracer(o.registerer, o.limits, m.counts)
		if err != nil {
			return nil, err
		}
		m.mt, m.metricSet = t, t.set
	}
	return m, nil
}

// NewMemory is New for callers whose Registerer no other open registry uses
// (or who give none); it panics where New fails, as prometheus.MustRegister
// does.
func NewMemory(opts ...Option) *Memory {
	m, err := New(opts...)
	if err != nil {
		panic(err)
	}
	return m
}

// counts is read by the metrics when scraped. It does not expire holds: the
// expiry timer does, and a scrape should not emit events.
func (m *Memory) counts() (registrations, namespaces int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total, len(m.namespaces)
}

// Limits returns the limits in force.
func (m *Memory) Limits() Limits { return m.limits }

// Register implements Registry. It emits Joined when r.Peer was not a member
// of r.Namespace, Updated when it was and its addresses, record or format
// changed, and nothing for a plain refresh; every successful call assigns a
// new Seq. Caps apply only to new members: refreshing never fails on a cap.
func (m *Memory) Register(r Registration) (Registration, error) {
	if err := m.limits.check(&r, m.policy); err != nil {
		return Registration{}, m.reject(r, err)
	}
	now := time.Now()
	if r.Source == SourceRendezvous && !r.Expiry.After(now) {
		return Registration{}, m.reject(r, ErrInvalidExpiry)
	}

	m.mu.Lock()
	defer m.unlock()
	if m.closed {
		return Registration{}, ErrClosed
	}
	m.expireLocked(now)

	ns := m.namespaces[r.Namespace]
	var e *entry
	if ns != nil {
		e = ns.members[r.Peer]
	}
	var kind EventKind
	switch {
	case e == nil:
		if err := m.admitLocked(r.Peer, r.Namespace, ns); err != nil {
			return Registration{}, m.reject(r, err)
		}
		e = m.addLocked(ns, r)
		kind = Joined
	case !equalAddrs(e.addrs, r.Addrs) || !bytes.Equal(e.envelope, r.Envelope) || e.format != r.Format:
		kind = Updated
	}
	if kind != 0 {
		e.addrs = slices.Clone(r.Addrs)
		e.envelope = bytes.Clone(r.Envelope)
		e.format = r.Format
	}
	if r.Source == SourceRendezvous {
		e.ttl = true
		m.setExpiry(e, r.Expiry)
	} else {
		e.live = true
	}

	m.stampLocked(e, m.seq+1, kind)
	return e.registration(), nil
}

// addLocked creates r's entry in ns (nil: a new namespace).
func (m *Memory) addLocked(ns *namespace, r Registration) *entry {
	if ns == nil {
		// Clone: the caller's string may share a larger request buffer.
		ns = &namespace{name: strings.Clone(r.Namespace), members: make(map[peer.ID]*entry)}
		m.namespaces[ns.name] = ns
	}
	e := &entry{ns: ns, peer: r.Peer, heapIdx: -1, listIdx: len(ns.list), joined: time.Now().UnixNano()}
	ns.members[r.Peer] = e
	ns.list = append(ns.list, e)
	m.peers[r.Peer]++
	m.total++
	return e
}

// stampLocked gives a changed entry its Seq (seq, or the next one if the
// counter has passed it) and emits kind unless it is 0 (a plain refresh).
func (m *Memory) stampLocked(e *entry, seq uint64, kind EventKind) {
	old := e.seq
	m.seq = max(m.seq+1, seq)
	e.seq = m.seq
	if old != 0 {
		e.ns.log.supersede()
		m.all.supersede()
	}
	e.ns.log.push(e.seq, e)
	m.all.push(e.seq, e)

	m.armLocked()
	if kind != 0 {
		if m.log.Enabled(context.Background(), slog.LevelDebug) {
			m.log.Debug("registry: member", "kind", kind, "ns", e.ns.name, "peer", e.peer, "live", e.live, "ttl", e.ttl)
		}
		m.emitLocked(Event{Kind: kind, Reg: e.registration()})
	}
}

// admitLocked applies the count caps to a new member.
// admitLocked checks the caps for p joining name (ns nil: a new namespace).
func (m *Memory) admitLocked(p peer.ID, name string, ns *namespace) error {
	switch {
	case m.peers[p] >= m.limits.MaxRegistrationsPerPeer:
		return ErrTooManyForPeer
	case m.total >= m.limits.MaxRegistrations:
		return ErrFull
	case ns == nil && len(m.namespaces) >= m.limits.MaxNamespaces:
		return ErrTooManyNamespaces
	case ns != nil && m.policy.MaxMembersOf(name) > 0 && len(ns.members) >= m.policy.MaxMembersOf(name):
		return ErrNamespaceFull
	}
	return nil
}

func (m *Memory) reject(r Registration, err error) error {
	m.mt.RegistrationRejected(err)
	if m.log.Enabled(context.Background(), slog.LevelDebug) {
		m.log.Debug("registry: rejected", "ns_len", len(r.Namespace), "peer", r.Peer, "err", err)
	}
	return err
}

// Unregister implements Registry. Dropping one source's hold while the other
// remains changes nothing observable and emits no event.
func (m *Memory) Unregister(ns string, p peer.ID, src Source, reason LeftReason) bool {
	m.mu.Lock()
	defer m.unlock()
	if m.closed {
		return false
	}
	m.expireLocked(time.Now())
	n := m.namespaces[ns]
	if n == nil {
		return false
	}
	e := n.members[p]
	if e == nil {
		return false
	}
	switch {
	case src == SourceRendezvous && e.ttl:
		e.ttl = false
		m.dropExpiry(e)
		m.armLocked()
	case src == SourceLive && e.live:
		e.live = false
	default:
		return false
	}
	if !e.ttl && !e.live {
		m.removeLocked(e, reason)
	}
	return true
}

// removeLocked deletes a member whose holds are gone and emits Left.
func (m *Memory) removeLocked(e *entry, reason LeftReason) {
	ev := Event{Kind: Left, Reason: reason, Reg: e.registration()}
	ns := e.ns
	m.dropExpiry(e)
	delete(ns.members, e.peer)
	last := len(ns.list) - 1
	ns.list[e.listIdx] = ns.list[last]
	ns.list[e.listIdx].listIdx = e.listIdx
	ns.list[last] = nil
	ns.list = ns.list[:last]
	if n := m.peers[e.peer] - 1; n > 0 {
		m.peers[e.peer] = n
	} else {
		delete(m.peers, e.peer)
	}
	m.total--
	e.seq = 0
	// The tombstone in the global log keeps e alive until compaction; drop
	// what it does not need.
	e.addrs, e.envelope = nil, nil
	m.all.supersede()
	if len(ns.members) == 0 {
		delete(m.namespaces, ns.name)
	} else {
		ns.log.supersede()
	}
	if m.log.Enabled(context.Background(), slog.LevelDebug) {
		m.log.Debug("registry: member", "kind", Left, "ns", ns.name, "peer", e.peer, "reason", reason)
	}
	m.emitLocked(ev)
}

// Get implements Registry.
func (m *Memory) Get(ns string, p peer.ID) (Registration, bool) {
	m.mu.Lock()
	defer m.unlock()
	m.expireLocked(time.Now())
	if n := m.namespaces[ns]; n != nil {
		if e := n.members[p]; e != nil {
			return e.registration(), true
		}
	}
	return Registration{}, false
}

// Discover implements Registry. Cost: O(log n) to find the cursor plus the
// page (and any tombstones inside it, at most about as many as live items).
func (m *Memory) Discover(ns string, after uint64, limit int) ([]Registration, uint64) {
	m.mu.Lock()
	defer m.unlock()
	if m.closed || limit <= 0 {
		return nil, after
	}
	m.expireLocked(time.Now())
	log := &m.all
	if ns != "" {
		n := m.namespaces[ns]
		if n == nil {
			return nil, after
		}
		log = &n.log
	}
	return log.page(after, limit)
}

// Members implements Registry.
func (m *Memory) Members(ns string) int {
	m.mu.Lock()
	defer m.unlock()
	m.expireLocked(time.Now())
	if n := m.namespaces[ns]; n != nil {
		return len(n.members)
	}
	return 0
}

// Random implements Registry with a partial Fisher-Yates shuffle of the
// namespace's member slice: each step swaps a uniformly chosen remaining
// member into place, so the result is a uniform sample without replacement
// and the cost is one step per returned or skipped member. skip runs under
// the registry lock, like a subscriber: it must not call into the registry.
func (m *Memory) Random(ns string, n int, skip func(peer.ID) bool) []Registration {
	m.mu.Lock()
	defer m.unlock()
	m.expireLocked(time.Now())
	x := m.namespaces[ns]
	if x == nil || n <= 0 {
		return nil
	}
	list := x.list
	out := make([]Registration, 0, min(n, len(list)))
	for i := 0; i < len(list) && len(out) < n; i++ {
		j := i + rand.IntN(len(list)-i)
		list[i], list[j] = list[j], list[i]
		list[i].listIdx, list[j].listIdx = i, j
		if skip != nil && skip(list[i].peer) {
			continue
		}
		out = append(out, list[i].registration())
	}
	return out
}

// Stats returns the current counts.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.unlock()
	m.expireLocked(time.Now())
	return Stats{
		Registrations: m.total,
		Namespaces:    len(m.namespaces),
		Peers:         len(m.peers),
		Subscriptions: m.subCount,
	}
}

// Close implements Registry: it stops the expiry timer and drops all members
// and subscribers without emitting events. Later calls to Register return
// ErrClosed; the other methods return zero values.
func (m *Memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.timer != nil {
		m.timer.Stop()
	}
	m.namespaces = map[string]*namespace{}
	m.peers = map[peer.ID]int{}
	m.subs = nil
	m.subCount = 0
	m.total = 0
	m.all = seqLog{}
	m.expiries = nil
	m.mu.Unlock()
	// Outside the lock, which a scrape of the gauges takes.
	m.metricSet.Unregister()
	return nil
}
