package wsstar

import (
	"bytes"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

// The view table is the heart of the protocol and needs no network: it keeps,
// per namespace, the set of views (one per accepted Join) and, per member
// shown somewhere, the set of views showing it. A membership change touches
// only the views that show the member (leave, update) or that have room
// (join), never every watcher of the namespace.
//
// A view has room only when it already shows every other member of the
// namespace: refills and snapshots take members from outside the view until
// it is full or none is left, and every new member is offered to every view
// with room. So a join enters exactly the views with room (all of which take
// it) and its cost is the number of views it enters.
//
// Snapshots and refills draw candidates uniformly from the registry and take
// those shown in the fewest views (the "power of two choices"), so members
// that joined early do not collect most of the views.

// A fill draws candidatesPerSlot random members per free slot plus
// extraCandidates: refills (one slot) get a wide choice, which is what evens
// out the load over time, while a large snapshot stays at about twice its size.
const (
	candidatesPerSlot = 2
	extraCandidates   = 16
)

// member is a namespace member shown in at least one view.
type member struct {
	id    peer.ID
	reg   registry.Registration
	ver   uint64 // table-unique; changes when what a view shows of it changes
	views map[*view]struct{}
	body  []byte // encoded PeerEvent fields 2-4, built on first use
}

type nsViews struct {
	name    string
	cancel  func()
	views   map[*view]struct{}
	room    map[*view]struct{}
	members map[peer.ID]*member
}

// smallPending is how many pending changes a view keeps room for between
// flushes: one map group.
const smallPending = 8

// change is a view's net change for one peer since its last flush.
type change struct {
	wasShown bool   // shown to the client at the last flush
	ver      uint64 // member version shown then
	reason   registry.LeftReason
}

// view is one joined namespace on one stream.
type view struct {
	ns      *nsViews
	self    peer.ID
	max     int
	owner   any
	shown   map[peer.ID]*member
	pending map[peer.ID]change // nil while there is none
	changes int                // changes since the last flush, counted before coalescing
	since   time.Time          // when the oldest of those changes was queued
	dead    bool
	over    bool
}

type queuedEvent struct {
	ns string
	ev registry.Event
	at time.Time // when it was queued; a newer event for the member replaces it
}

// viewTable is not safe for concurrent use except enqueue and takeQueued: the
// owner serialises everything else with its own lock.
type viewTable struct {
	reg        registry.Registry
	maxPending int
	body       func(*member) []byte // encodes a member's event body
	dirty      func(*view)          // a view got its first pending change
	overflow   func(*view)          // a view was ended for too many pending changes

	nss        map[string]*nsViews
	count      int
	ver        uint64
	overflowed []*view
	applying   time.Time // queue time of the event being applied, for mark

	// queue holds the registry's events until the owner applies them, the
	// latest per (namespace, peer): apply re-reads the registry, so an older
	// event for the same member adds nothing but work.
	queue  *coalescer[eventKey, queuedEvent]
	notify <-chan struct{}
}

type eventKey struct {
	ns string
	p  peer.ID
}

// newViewTable returns an empty table; queued, if not nil, is told the
// number of pending registry events whenever it changes.
func newViewTable(reg registry.Registry, maxPending int, queued func(int)) *viewTable {
	q := newCoalescer[eventKey, queuedEvent](0, queued)
	return &viewTable{
		reg:        reg,
		maxPending: maxPending,
		body:       func(m *member) []byte { return encodeMember(m, nil, DefaultMaxPeers) },
		dirty:      func(*view) {},
		overflow:   func(*view) {},
		nss:        make(map[string]*nsViews),
		queue:      q,
		notify:     q.notify,
	}
}

// enqueue is the registry subscription callback: it must not block nor call
// into the registry, so it only queues.
//
// Keeping only the latest event per member is exact because apply decides
// from the registry's current state: a member that joined and left is
// applied as the Left (its Joined would find it gone), one that left and
// came back as the Joined or Updated (its Left would find it present), and a
// Left carries the reason of the last leave, which is the one views report.
func (t *viewTable) enqueue(ns string, ev registry.Event) {
	t.queue.put(eventKey{ns, ev.Reg.Peer}, queuedEvent{ns: ns, ev: ev, at: time.Now()})
}

// takeQueued removes and returns up to n queued events, oldest first.
func (t *viewTable) takeQueued(n int) []queuedEvent {
	return t.queue.take(n)
}

// open creates a view of ns for self showing up to max other members, filled
// with its snapshot.
func (t *viewTable) open(ns string, self peer.ID, max int, owner any) *view {
	n := t.nss[ns]
	if n == nil {
		n = &nsViews{
			name:    ns,
			views:   make(map[*view]struct{}),
			room:    make(map[*view]struct{}),
			members: make(map[peer.ID]*member),
		}
		t.nss[ns] = n
		// Subscribing before the snapshot is drawn: events already reflected
		// in it are applied again later and are idempotent.
		n.cancel = t.reg.Subscribe(ns, func(ev registry.Event) { t.enqueue(ns, ev) })
	}
	v := &view{
		ns:    n,
		self:  self,
		max:   max,
		owner: owner,
	}
	n.views[v] = struct{}{}
	t.count++
	t.fill(v, false)
	return v
}

// snapshot returns the members the view shows.
func (t *viewTable) snapshot(v *view) []*member {
	out := make([]*member, 0, len(v.shown))
	for _, m := range v.shown {
		out = append(out, m)
	}
	return out
}

// close ends a view and frees it.
func (t *viewTable) close(v *view) {
	if v.dead {
		return
	}
	v.dead = true
	n := v.ns
	for id, m := range v.shown {
		delete(m.views, v)
		if len(m.views) == 0 {
			delete(n.members, id)
		}
	}
	v.shown = nil
	v.pending = nil
	delete(n.views, v)
	delete(n.room, v)
	t.count--
	if len(n.views) == 0 {
		n.cancel()
		delete(t.nss, n.name)
	}
}

// apply applies one registry event. Events may be stale (the registry runs
// ahead of the queue), so the registry's current state decides.
func (t *viewTable) apply(q queuedEvent) {
	n := t.nss[q.ns]
	if n == nil {
		return
	}
	p := q.ev.Reg.Peer
	t.applying = q.at
	switch q.ev.Kind {
	case registry.Joined, registry.Updated:
		cur, ok := t.reg.Get(q.ns, p)
		if !ok {
			return // it left meanwhile; its Left follows
		}
		m := n.members[p]
		if m != nil && !sameContent(m.reg, cur) {
			for v := range m.views {
				t.mark(v, p, 0)
			}
			t.ver++
			m.reg, m.ver, m.body = cur, t.ver, nil
		}
		for v := range n.room {
			if v.self == p || v.shown[p] != nil {
				continue
			}
			if m == nil {
				m = t.member(n, cur)
			}
			t.add(v, m, true)
		}
	case registry.Left:
		if _, ok := t.reg.Get(q.ns, p); ok {
			return // it is a member again
		}
		m := n.members[p]
		if m == nil {
			return
		}
		views := make([]*view, 0, len(m.views))
		for v := range m.views {
			views = append(views, v)
		}
		for _, v := range views {
			t.mark(v, p, q.ev.Reason)
			delete(v.shown, p)
			n.room[v] = struct{}{}
		}
		delete(n.members, p)
		for _, v := range views {
			t.fill(v, true)
		}
	}
	t.reap()
}

// reap ends the views that overflowed while applying an event.
func (t *viewTable) reap() {
	for _, v := range t.overflowed {
		if !v.dead {
			t.close(v)
			t.overflow(v)
		}
	}
	t.overflowed = t.overflowed[:0]
}

func (t *viewTable) member(n *nsViews, reg registry.Registration) *member {
	m := n.members[reg.Peer]
	if m == nil {
		t.ver++
		m = &member{id: reg.Peer, reg: reg, ver: t.ver, views: make(map[*view]struct{})}
		n.members[reg.Peer] = m
	}
	return m
}

func (t *viewTable) add(v *view, m *member, mark bool) {
	if mark {
		t.mark(v, m.id, 0)
	}
	if v.shown == nil {
		v.shown = make(map[peer.ID]*member)
	}
	v.shown[m.id] = m
	m.views[v] = struct{}{}
	if len(v.shown) >= v.max {
		delete(v.ns.room, v)
	} else {
		v.ns.room[v] = struct{}{}
	}
}

// fill tops the view up with the least-shown of a few random members.
func (t *viewTable) fill(v *view, mark bool) {
	need := v.max - len(v.shown)
	if need <= 0 {
		delete(v.ns.room, v)
		return
	}
	n := v.ns
	cands := t.reg.Random(n.name, need*candidatesPerSlot+extraCandidates, func(p peer.ID) bool {
		return p == v.self || v.shown[p] != nil
	})
	if v.shown == nil {
		// Sized for what the snapshot holds rather than for max: views of
		// small namespaces stay far below max, and a map sized for 64 costs
		// 3.5 KiB, empty or not.
		v.shown = make(map[peer.ID]*member, min(need, len(cands)))
	}
	type cand struct {
		i, load int
	}
	order := make([]cand, len(cands))
	for i, r := range cands {
		order[i] = cand{i: i}
		if m := n.members[r.Peer]; m != nil {
			order[i].load = len(m.views)
		}
	}
	// Stable: Random's order is random, so ties stay random.
	slices.SortStableFunc(order, func(a, b cand) int { return a.load - b.load })
	for _, c := range order {
		if need == 0 {
			break
		}
		r := cands[c.i]
		if r.Peer == v.self || v.shown[r.Peer] != nil {
			continue
		}
		t.add(v, t.member(n, r), mark)
		need--
	}
	if len(v.shown) < v.max {
		n.room[v] = struct{}{}
	}
}

// mark records that peer p changes in view v; it must run before the change.
func (t *viewTable) mark(v *view, p peer.ID, reason registry.LeftReason) {
	if v.dead {
		return
	}
	c, ok := v.pending[p]
	if !ok {
		if m := v.shown[p]; m != nil {
			c = change{wasShown: true, ver: m.ver}
		}
	}
	if reason != 0 {
		c.reason = reason
	}
	if v.pending == nil {
		v.pending = make(map[peer.ID]change)
	}
	v.pending[p] = c
	v.changes++
	if v.changes == 1 || t.applying.Before(v.since) {
		v.since = t.applying
	}
	if v.changes == 1 {
		t.dirty(v)
	}
	if v.changes > t.maxPending && !v.over {
		v.over = true
		t.overflowed = append(t.overflowed, v)
	}
}

// flush returns the view's net changes since its last flush as Peers frames
// (usually one; more only if they exceed the message cap) and the number of
// events by kind, and clears them.
func (t *viewTable) flush(v *view) (frames [][]byte, counts [4]int) {
	if v.dead || len(v.pending) == 0 {
		if !v.dead {
			v.changes = 0
		}
		return nil, counts
	}
	enc := newPeersEncoder(v.ns.name, false, 256)
	emit := func(kind pb.PeerEvent_Kind, body []byte, reason pb.LeftReason) {
		if enc.n > 0 && enc.size()+eventSize(kind, body, reason) > MaxServerMessageSize {
			frames = append(frames, enc.frame())
			enc = newPeersEncoder(v.ns.name, false, 256)
		}
		enc.add(kind, body, reason)
		counts[kind]++
	}
	for id, c := range v.pending {
		m := v.shown[id]
		switch {
		case c.wasShown && m == nil:
			emit(pb.PeerEvent_LEFT, eventBody([]byte(id), nil, nil), leftReason(c.reason))
		case !c.wasShown && m != nil:
			emit(pb.PeerEvent_JOINED, t.bodyOf(m), 0)
		case c.wasShown && m != nil && m.ver != c.ver:
			emit(pb.PeerEvent_UPDATED, t.bodyOf(m), 0)
		}
	}
	// A cleared map keeps its largest size: after a burst it is dropped, so
	// that an idle view does not hold a burst's worth of slots.
	if len(v.pending) > smallPending {
		v.pending = nil
	} else {
		clear(v.pending)
	}
	v.changes = 0
	if enc.n > 0 {
		frames = append(frames, enc.frame())
	}
	return frames, counts
}

// snapshotFrame encodes the view's current members as its snapshot.
func (t *viewTable) snapshotFrame(v *view) []byte {
	enc := newPeersEncoder(v.ns.name, true, 128*len(v.shown))
	for _, m := range v.shown {
		enc.add(pb.PeerEvent_JOINED, t.bodyOf(m), 0)
	}
	return enc.frame()
}

func (t *viewTable) bodyOf(m *member) []byte {
	if m.body == nil {
		m.body = t.body(m)
	}
	return m.body
}

func sameContent(a, b registry.Registration) bool {
	return a.Format == b.Format && bytes.Equal(a.Envelope, b.Envelope) &&
		slices.EqualFunc(a.Addrs, b.Addrs, func(x, y ma.Multiaddr) bool { return x.Equal(y) })
}

func leftReason(r registry.LeftReason) pb.LeftReason {
	switch r {
	case registry.ReasonUnregistered:
		return pb.LeftReason_LEFT
	case registry.ReasonDisconnected:
		return pb.LeftReason_DISCONNECTED
	case registry.ReasonExpired:
		return pb.LeftReason_EXPIRED
	}
	return pb.LeftReason_LEFT_REASON_UNSPECIFIED
}
