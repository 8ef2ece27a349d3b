package wsstar

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

func randomPeer(tb testing.TB) peer.ID {
	tb.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func randomPeers(tb testing.TB, n int) []peer.ID {
	out := make([]peer.ID, n)
	for i := range out {
		out[i] = randomPeer(tb)
	}
	return out
}

var testAddr = ma.StringCast("/ip4/127.0.0.1/tcp/4001/ws")

// plainEncoder encodes the registration alone, as the service does for a
// member without an identify record.
type plainEncoder struct{ maxPeers int }

func (e plainEncoder) memberBody(m *member) []byte { return encodeMember(m, nil, e.maxPeers) }

// tableFixture is a view table over a real in-memory registry, fed by hand
// the way the service's feeder feeds it: no network, no goroutines.
type tableFixture struct {
	tb     testing.TB
	reg    *registry.Memory
	t      *viewTable
	events *coalescer[eventKey, queuedEvent]
}

func newTableFixture(tb testing.TB, maxPending int) *tableFixture {
	reg := registry.NewMemory(withRegistryLimits(func(l *registry.Limits) { l.MaxRegistrations, l.MaxNamespaces = 1<<20, 1<<10 }))
	tb.Cleanup(func() { _ = reg.Close() })
	return &tableFixture{tb: tb, reg: reg, t: newViewTable(maxPending, plainEncoder{DefaultMaxPeers}),
		events: newCoalescer[eventKey, queuedEvent](0, nil)}
}

// open opens a view of ns for self, subscribing to ns as the feeder does.
func (f *tableFixture) open(ns string, self peer.ID, max int) *view {
	n := f.t.namespace(ns)
	if n == nil {
		n = f.t.addNamespace(ns, f.reg.Subscribe(ns, func(ev registry.Event) {
			f.events.put(eventKey{ns, ev.Reg.Peer}, queuedEvent{ns: ns, ev: ev, at: time.Now()})
		}))
	}
	cands := f.reg.Random(ns, fillDraw(max), func(p peer.ID) bool { return p == self })
	return f.t.open(n, self, max, nil, cands)
}

// close closes v and ends the subscriptions nobody needs any more.
func (f *tableFixture) close(v *view) {
	f.t.close(v)
	for _, n := range f.t.reap() {
		n.unsubscribe()
	}
}

// apply applies queued events and refills the views they emptied; the
// dirty views are taken as the service takes them (nobody writes here).
func (f *tableFixture) apply(q []queuedEvent) {
	for _, v := range f.t.applyStates(q, readStates(f.reg, q)) {
		f.t.refill(v, f.reg.Random(v.ns.name, fillDraw(v.max-len(v.shown)), skipFor(v)))
	}
	f.t.takeDirty()
}

func (f *tableFixture) register(ns string, p peer.ID, addr ma.Multiaddr) {
	f.tb.Helper()
	if _, err := f.reg.Register(registry.Registration{Namespace: ns, Peer: p, Addrs: []ma.Multiaddr{addr}, Source: registry.SourceLive}); err != nil {
		f.tb.Fatal(err)
	}
	f.drain()
}

func (f *tableFixture) unregister(ns string, p peer.ID, reason registry.LeftReason) {
	f.reg.Unregister(ns, p, registry.SourceLive, reason)
	f.drain()
}

func (f *tableFixture) drain() {
	f.apply(f.events.take(math.MaxInt))
}

// flushEvents decodes what a flush of v would send.
func (f *tableFixture) flushEvents(v *view) []*pb.PeerEvent {
	f.tb.Helper()
	frames, _ := f.t.flush(v)
	var out []*pb.PeerEvent
	for _, fr := range frames {
		out = append(out, decodePeersFrame(f.tb, fr).GetEvents()...)
	}
	return out
}

func decodePeersFrame(tb testing.TB, frame []byte) *pb.Peers {
	tb.Helper()
	n, k := uvarint(frame)
	if k <= 0 || int(n) != len(frame)-k {
		tb.Fatalf("bad frame prefix")
	}
	m := new(pb.ServerMessage)
	if err := proto.Unmarshal(frame[k:], m); err != nil {
		tb.Fatal(err)
	}
	if m.GetPeers() == nil {
		tb.Fatalf("not a Peers message: %v", m)
	}
	return m.GetPeers()
}

func TestViewsOf500MembersHoldExactlyMaxPeersWithoutHotSpots(t *testing.T) {
	const members, maxPeers = 500, 16
	f := newTableFixture(t, 1<<20)
	ids := randomPeers(t, members)
	views := make(map[peer.ID]*view, members)
	// Every member announces and watches, one after the other, as browsers do.
	for _, p := range ids {
		f.register("ns", p, testAddr)
		views[p] = f.open("ns", p, maxPeers)
	}
	check := func(alive map[peer.ID]bool) {
		t.Helper()
		for p, v := range views {
			if len(v.shown) != maxPeers {
				t.Fatalf("view of %s shows %d members, want %d", p, len(v.shown), maxPeers)
			}
			if v.shown[p] != nil {
				t.Fatalf("view of %s shows itself", p)
			}
			for q := range v.shown {
				if !alive[q] {
					t.Fatalf("view of %s still shows departed %s", p, q)
				}
			}
		}
	}
	alive := make(map[peer.ID]bool)
	for _, p := range ids {
		alive[p] = true
	}
	check(alive)

	// 100 members leave; every view that showed one gets a replacement.
	for _, p := range ids[:100] {
		f.close(views[p])
		delete(views, p)
		delete(alive, p)
		f.unregister("ns", p, registry.ReasonUnregistered)
	}
	check(alive)

	// No hot spot: with uniform sampling alone the earliest members would sit
	// in about five times the mean number of views. The newest members enter
	// views only through refills (full views do not take new members), so the
	// low tail is looser than the high one.
	var loads []int
	for p := range alive {
		n := 0
		if m := f.t.nss["ns"].members[p]; m != nil {
			n = len(m.views)
		}
		loads = append(loads, n)
	}
	slices.Sort(loads)
	mean := float64(maxPeers) // every one of the views holds maxPeers
	p10, p50, max := loads[len(loads)/10], loads[len(loads)/2], loads[len(loads)-1]
	t.Logf("views per member: min %d p10 %d p50 %d max %d (mean %.0f)", loads[0], p10, p50, max, mean)
	if float64(max) > 1.5*mean {
		t.Errorf("hot spot: a member is in %d views, mean %.0f", max, mean)
	}
	if float64(p10) < mean/4 {
		t.Errorf("10%% of members are in fewer than %d views (p10 %d)", int(mean/4), p10)
	}
}

func TestViewWithRoomTakesEveryNewMemberButNeverItself(t *testing.T) {
	f := newTableFixture(t, 1024)
	a, b, c := randomPeer(t), randomPeer(t), randomPeer(t)
	f.register("ns", a, testAddr)
	va := f.open("ns", a, 16)
	if len(va.shown) != 0 {
		t.Fatalf("snapshot shows %d, want 0 (only itself is a member)", len(va.shown))
	}
	f.register("ns", b, testAddr)
	f.register("ns", c, testAddr)
	ev := f.flushEvents(va)
	if len(ev) != 2 || ev[0].GetKind() != pb.PeerEvent_JOINED || ev[1].GetKind() != pb.PeerEvent_JOINED {
		t.Fatalf("events %v, want two JOINED", ev)
	}
	if _, room := f.t.nss["ns"].room[va]; !room || len(va.shown) != 2 || va.shown[a] != nil {
		t.Fatalf("view shows %d (itself: %v), room %v; want 2, not itself, room", len(va.shown), va.shown[a] != nil, room)
	}
}

func TestJoinThenLeaveInsideOneWindowSendsNothing(t *testing.T) {
	f := newTableFixture(t, 1024)
	watcher, p := randomPeer(t), randomPeer(t)
	v := f.open("ns", watcher, 16)
	f.register("ns", p, testAddr)
	f.unregister("ns", p, registry.ReasonUnregistered)
	if ev := f.flushEvents(v); len(ev) != 0 {
		t.Fatalf("got %d events, want none: %v", len(ev), ev)
	}
	// The same peer joining in the next window is sent.
	f.register("ns", p, testAddr)
	if ev := f.flushEvents(v); len(ev) != 1 || ev[0].GetKind() != pb.PeerEvent_JOINED {
		t.Fatalf("events %v, want one JOINED", ev)
	}
}

func TestCoalescingSendsTheNetChangePerPeer(t *testing.T) {
	f := newTableFixture(t, 1024)
	watcher, p, q := randomPeer(t), randomPeer(t), randomPeer(t)
	f.register("ns", p, testAddr)
	f.register("ns", q, testAddr)
	v := f.open("ns", watcher, 16)
	if len(v.shown) != 2 {
		t.Fatalf("snapshot shows %d, want 2", len(v.shown))
	}
	// p: shown, gone and back with a new address -> UPDATED.
	f.unregister("ns", p, registry.ReasonDisconnected)
	f.register("ns", p, ma.StringCast("/ip4/1.2.3.4/tcp/1/ws"))
	// q: shown and gone (after an update) -> LEFT with the last reason.
	f.register("ns", q, ma.StringCast("/ip4/1.2.3.5/tcp/1/ws"))
	f.unregister("ns", q, registry.ReasonDisconnected)

	got := map[peer.ID]*pb.PeerEvent{}
	for _, e := range f.flushEvents(v) {
		id, err := peer.IDFromBytes(e.GetPeerId())
		if err != nil {
			t.Fatal(err)
		}
		if got[id] != nil {
			t.Fatalf("two events for %s in one batch", id)
		}
		got[id] = e
	}
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	if e := got[p]; e.GetKind() != pb.PeerEvent_UPDATED || len(e.GetAddrs()) != 1 {
		t.Errorf("p: %v, want UPDATED with its address", e)
	}
	if e := got[q]; e.GetKind() != pb.PeerEvent_LEFT || e.GetReason() != pb.LeftReason_DISCONNECTED {
		t.Errorf("q: %v, want LEFT DISCONNECTED", e)
	}
	// A view only ever gets LEFT for peers it was shown.
	r := randomPeer(t)
	for i := range 16 {
		f.register("ns", randomPeer(t), ma.StringCast(fmt.Sprintf("/ip4/10.0.0.%d/tcp/1/ws", i+1)))
	}
	f.flushEvents(v)
	f.register("ns", r, testAddr) // the view is full: r is not offered to it
	f.unregister("ns", r, registry.ReasonUnregistered)
	if ev := f.flushEvents(v); len(ev) != 0 {
		t.Fatalf("events for a peer never shown: %v", ev)
	}
}

func TestViewOverPendingBoundIsEndedAndFreed(t *testing.T) {
	f := newTableFixture(t, 8)
	slow := f.open("ns", randomPeer(t), 64)
	fast := f.open("ns", randomPeer(t), 64)
	for range 5 {
		f.register("ns", randomPeer(t), testAddr)
	}
	f.flushEvents(fast) // fast flushes, slow does not
	for range 5 {
		f.register("ns", randomPeer(t), testAddr)
	}
	if overflowed := f.t.takeOverflowed(); len(overflowed) != 1 || overflowed[0] != slow {
		t.Fatalf("overflowed %v, want only the slow view", overflowed)
	}
	if !slow.dead || slow.pending != nil {
		t.Fatal("overflowed view not freed")
	}
	if f.t.count != 1 || len(f.t.nss["ns"].views) != 1 {
		t.Fatalf("table still counts the overflowed view")
	}
	for _, m := range f.t.nss["ns"].members {
		if _, ok := m.views[slow]; ok {
			t.Fatal("a member still points at the overflowed view")
		}
	}
	if ev := f.flushEvents(fast); len(ev) != 5 {
		t.Fatalf("fast view got %d events, want 5", len(ev))
	}
}

func TestLastViewClosedDropsNamespaceState(t *testing.T) {
	f := newTableFixture(t, 1024)
	p := randomPeer(t)
	f.register("ns", p, testAddr)
	v := f.open("ns", randomPeer(t), 4)
	f.close(v)
	f.close(v) // idempotent
	if len(f.t.nss) != 0 || f.t.count != 0 {
		t.Fatalf("state left: %d namespaces, %d views", len(f.t.nss), f.t.count)
	}
	// Events after the last view are not queued any more.
	f.register("ns", randomPeer(t), testAddr)
	if q := f.events.take(math.MaxInt); len(q) != 0 {
		t.Fatalf("%d events queued for a namespace nobody watches", len(q))
	}
}

// A registry flood for a few members queues one entry per member, and the
// views still get each member's net change: the last LEFT reason, nothing
// for a peer that joined and left, UPDATED for one that left and came back.
func TestPendingRegistryEventsAreCoalescedPerMember(t *testing.T) {
	f := newTableFixture(t, 1<<20)
	watcher := randomPeer(t)
	leaver, returner := randomPeer(t), randomPeer(t)
	f.register("ns", leaver, testAddr)
	f.register("ns", returner, testAddr)
	v := f.open("ns", watcher, 16)
	if len(v.shown) != 2 {
		t.Fatalf("snapshot shows %d, want 2", len(v.shown))
	}
	joiner, passer := randomPeer(t), randomPeer(t)
	reg := func(p peer.ID, a ma.Multiaddr) {
		if _, err := f.reg.Register(registry.Registration{Namespace: "ns", Peer: p, Addrs: []ma.Multiaddr{a}, Source: registry.SourceLive}); err != nil {
			t.Fatal(err)
		}
	}
	final := ma.StringCast("/ip4/10.0.0.1/tcp/999/ws")
	for i := range 200 {
		a := ma.StringCast(fmt.Sprintf("/ip4/10.0.0.1/tcp/%d/ws", i+1))
		reg(joiner, a)
		reg(passer, a)
		f.reg.Unregister("ns", passer, registry.SourceLive, registry.ReasonUnregistered)
		f.reg.Unregister("ns", leaver, registry.SourceLive, registry.ReasonUnregistered)
		reg(leaver, a)
		f.reg.Unregister("ns", returner, registry.SourceLive, registry.ReasonDisconnected)
		reg(returner, a)
	}
	reg(joiner, final)
	f.reg.Unregister("ns", leaver, registry.SourceLive, registry.ReasonExpired)

	q := f.events.take(math.MaxInt)
	if len(q) > 4 {
		t.Fatalf("%d queued events for 4 members", len(q))
	}
	f.apply(q)
	got := map[peer.ID]*pb.PeerEvent{}
	for _, e := range f.flushEvents(v) {
		id, err := peer.IDFromBytes(e.GetPeerId())
		if err != nil {
			t.Fatal(err)
		}
		got[id] = e
	}
	if e := got[leaver]; e.GetKind() != pb.PeerEvent_LEFT || e.GetReason() != pb.LeftReason_EXPIRED {
		t.Errorf("leaver: %v, want LEFT EXPIRED", e)
	}
	if e := got[returner]; e.GetKind() != pb.PeerEvent_UPDATED {
		t.Errorf("returner: %v, want UPDATED", e)
	}
	if e := got[joiner]; e.GetKind() != pb.PeerEvent_JOINED || len(e.GetAddrs()) != 1 || !bytes.Equal(e.GetAddrs()[0], final.Bytes()) {
		t.Errorf("joiner: %v, want JOINED with its last address", e)
	}
	if e, ok := got[passer]; ok {
		t.Errorf("passer (joined and left): %v, want nothing", e)
	}
	if len(got) != 3 {
		t.Errorf("got %d events, want 3", len(got))
	}
}
