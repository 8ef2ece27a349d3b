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
	name string
	// unsubscribe ends the registry subscription feeding this namespace;
	// the service sets it and calls it once the namespace is reaped.
	unsubscribe func()
	views       map[*view]struct{}
	room        map[*view]struct{}
	members     map[peer.ID]*member
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
	ns    *nsViews
	self  peer.ID
	max   int
	owner *session
	// shown is what the view shows; written only by the table's feeder
	// (open, apply, fill), so the feeder may read it without the lock.
	shown   map[peer.ID]*member
	pending map[peer.ID]change // nil while there is none
	changes int                // changes since the last flush, counted before coalescing
	since   time.Time          // when the oldest of those changes was queued
	dead    bool
	over    bool
}

// memberEncoder encodes what a view shows of a member (PeerEvent fields
// 2-4); the service adds the identify record it holds for the member.
type memberEncoder interface {
	memberBody(m *member) []byte
}

// viewTable is plain data: it asks nobody and calls nobody back. Whoever
// owns it reads the registry, applies what it read with the methods below
// under its own lock, then takes the views that became dirty or overflowed
// (takeDirty, takeOverflowed) and the namespaces left without views (reap).
type viewTable struct {
	maxPending int
	enc        memberEncoder

	nss   map[string]*nsViews
	count int
	ver   uint64
	// dirty: views that got their first pending change since a flush;
	// overflowed: views the table ended for too many pending changes.
	dirty      []*view
	overflowed []*view
	applying   time.Time // queue time of the event being applied, for mark
}

func newViewTable(maxPending int, enc memberEncoder) *viewTable {
	return &viewTable{maxPending: maxPending, enc: enc, nss: make(map[string]*nsViews)}
}

// namespace returns the views of ns, nil when it has none.
func (t *viewTable) namespace(ns string) *nsViews { return t.nss[ns] }

// addNamespace starts holding views of ns, fed by the registry subscription
// that unsubscribe ends.
func (t *viewTable) addNamespace(ns string, unsubscribe func()) *nsViews {
	n := &nsViews{
		name:        ns,
		unsubscribe: unsubscribe,
		views:       make(map[*view]struct{}),
		room:        make(map[*view]struct{}),
		members:     make(map[peer.ID]*member),
	}
	t.nss[ns] = n
	return n
}

// reap forgets the namespaces without views and returns them: their
// subscriptions are to be ended.
func (t *viewTable) reap() []*nsViews {
	var out []*nsViews
	for name, n := range t.nss {
		if len(n.views) == 0 {
			delete(t.nss, name)
			out = append(out, n)
		}
	}
	return out
}

// open creates a view of n for self showing up to max other members, filled
// from cands (registry members drawn at random).
func (t *viewTable) open(n *nsViews, self peer.ID, max int, owner *session, cands []registry.Registration) *view {
	v := &view{ns: n, self: self, max: max, owner: owner}
	n.views[v] = struct{}{}
	t.count++
	t.fill(v, cands, false)
	return v
}

// close ends a view and frees it; it reports whether the namespace has no
// view left.
func (t *viewTable) close(v *view) (emptied bool) {
	if v.dead {
		return false
	}
	v.dead = true
	n := v.ns
	for id, m := range v.shown {
		delete(m.views, v)
		if len(m.views) == 0 {
			delete(n.members, id)
		}
	}
	v.pending = nil
	delete(n.views, v)
	delete(n.room, v)
	t.count--
	return len(n.views) == 0
}

// applyStates applies queued events given their members' current states
// (readStates): the current state decides, as events may be stale. It
// returns the views that lost members, to be refilled.
func (t *viewTable) applyStates(q []queuedEvent, states []memberState) []*view {
	var refills []*view
	var seen map[*view]struct{}
	for i, e := range q {
		n := t.nss[e.ns]
		switch {
		case n == nil:
		case states[i].present:
			t.present(n, states[i].cur, e.at)
		case e.ev.Kind == registry.Left:
			for _, v := range t.absent(n, e.ev.Reg.Peer, e.ev.Reason, e.at) {
				if seen == nil {
					seen = make(map[*view]struct{})
				}
				if _, ok := seen[v]; !ok {
					seen[v] = struct{}{}
					refills = append(refills, v)
				}
			}
		default:
			// It left meanwhile; its Left is queued.
		}
	}
	return refills
}

// present applies a member as the registry holds it now (after a Joined or
// Updated event, or any event of a member found present): views showing it
// see an update if its content changed, views with room take it.
func (t *viewTable) present(n *nsViews, cur registry.Registration, queued time.Time) {
	p := cur.Peer
	t.applying = queued
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
	t.reapOverflowed()
}

// absent applies a member the registry no longer holds (after its Left):
// the views showing it see it leave, and have room again. It returns those
// views: they are to be refilled.
func (t *viewTable) absent(n *nsViews, p peer.ID, reason registry.LeftReason, queued time.Time) []*view {
	t.applying = queued
	m := n.members[p]
	if m == nil {
		return nil
	}
	views := make([]*view, 0, len(m.views))
	for v := range m.views {
		views = append(views, v)
	}
	for _, v := range views {
		t.mark(v, p, reason)
		delete(v.shown, p)
		n.room[v] = struct{}{}
	}
	delete(n.members, p)
	t.reapOverflowed()
	return views
}

// refill tops v up from cands after members left it.
func (t *viewTable) refill(v *view, cands []registry.Registration) {
	if v.dead {
		return
	}
	t.fill(v, cands, true)
	t.reapOverflowed()
}

// reapOverflowed ends the views that overflowed while applying a change.
func (t *viewTable) reapOverflowed() {
	for _, v := range t.overflowed {
		if !v.dead {
			t.close(v)
		}
	}
}

// takeDirty returns the views that got their first pending change since
// the last call; the slice is valid until the table next applies a change
// (its array is reused: a join entering many views appends one per view).
func (t *viewTable) takeDirty() []*view {
	out := t.dirty
	t.dirty = t.dirty[:0]
	return out
}

// takeOverflowed returns the views ended for too many pending changes since
// the last call.
func (t *viewTable) takeOverflowed() []*view {
	out := t.overflowed
	t.overflowed = nil
	return out
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

// fillDraw is how many random members to draw for a view with need free
// slots: the least-shown of candidatesPerSlot per slot plus
// extraCandidates are taken, among those the view does not show yet (the
// draw's skip; see skipFor).
func fillDraw(need int) int {
	return need*candidatesPerSlot + extraCandidates
}

// skipFor leaves out of a draw for v its own peer and the members it shows.
// Only the feeder writes v.shown, so the feeder may call it without the lock.
func skipFor(v *view) func(peer.ID) bool {
	return func(p peer.ID) bool { return p == v.self || v.shown[p] != nil }
}

// fill tops the view up with the least-shown of cands.
func (t *viewTable) fill(v *view, cands []registry.Registration, mark bool) {
	need := v.max - len(v.shown)
	if need <= 0 {
		delete(v.ns.room, v)
		return
	}
	n := v.ns
	if v.shown == nil {
		// Sized for what the snapshot holds rather than for max: views of
		// small namespaces stay far below max, and a map sized for 64 costs
		// 3.5 KiB, empty or not.
		v.shown = make(map[peer.ID]*member, min(need, len(cands)))
	}
	type cand struct {
		i, load int
	}
	order := make([]cand, 0, len(cands))
	for i, r := range cands {
		if r.Peer == v.self || v.shown[r.Peer] != nil {
			continue
		}
		c := cand{i: i}
		if m := n.members[r.Peer]; m != nil {
			c.load = len(m.views)
		}
		order = append(order, c)
	}
	// Stable: Random's order is random, so ties stay random.
	slices.SortStableFunc(order, func(a, b cand) int { return a.load - b.load })
	for _, c := range order {
		if need == 0 {
			break
		}
		t.add(v, t.member(n, cands[c.i]), mark)
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
		t.dirty = append(t.dirty, v)
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
		m.body = t.enc.memberBody(m)
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
