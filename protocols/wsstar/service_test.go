package wsstar

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

func TestAnnouncedPeersSeeEachOtherJoinAndLeaveWithTheRightReason(t *testing.T) {
	n := newNode(t, nil)
	a, ha := n.dial(t)
	if _, snap := join(t, a, "chat", true, 0); len(snap.Events) != 0 {
		t.Fatalf("first member's snapshot: %v, want empty", snap.Events)
	}

	b, hb := n.dial(t)
	ack, snap := join(t, b, "chat", true, 0)
	if ack.Members != 2 || ack.MaxPeers != DefaultDefaultMaxPeers {
		t.Fatalf("ack %+v, want 2 members and the default view size", ack)
	}
	e, ok := findEvent(snap, ha.ID())
	if !ok || len(snap.Events) != 1 || e.Kind != pb.PeerEvent_JOINED {
		t.Fatalf("snapshot %+v, want exactly a JOINED for the existing member", snap)
	}
	// Its address is its circuit address through the node, without /p2p/<a>.
	want := n.h.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + n.h.ID().String() + "/p2p-circuit"))
	if len(e.Addrs) == 0 || !e.Addrs[0].Equal(want) {
		t.Fatalf("addrs %v, want %s first", e.Addrs, want)
	}
	if e := expectEvent(t, a, hb.ID()); e.Kind != pb.PeerEvent_JOINED {
		t.Fatalf("a got %v for b, want JOINED", e.Kind)
	}

	// Leave -> LEFT/LEFT.
	if err := b.Leave("chat"); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, a, hb.ID()); e.Kind != pb.PeerEvent_LEFT || e.Reason != pb.LeftReason_LEFT {
		t.Fatalf("after Leave: %v %v, want LEFT LEFT", e.Kind, e.Reason)
	}

	// Closing the stream -> LEFT/LEFT.
	c, hc := n.dial(t)
	join(t, c, "chat", true, 0)
	expectEvent(t, a, hc.ID())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, a, hc.ID()); e.Kind != pb.PeerEvent_LEFT || e.Reason != pb.LeftReason_LEFT {
		t.Fatalf("after close: %v %v, want LEFT LEFT", e.Kind, e.Reason)
	}

	// Resetting the stream -> LEFT/DISCONNECTED.
	d, hd := n.dial(t)
	join(t, d, "chat", true, 0)
	expectEvent(t, a, hd.ID())
	_ = d.Reset()
	if e := expectEvent(t, a, hd.ID()); e.Kind != pb.PeerEvent_LEFT || e.Reason != pb.LeftReason_DISCONNECTED {
		t.Fatalf("after reset: %v %v, want LEFT DISCONNECTED", e.Kind, e.Reason)
	}

	// Losing the connection -> LEFT/DISCONNECTED.
	f, hf := n.dial(t)
	join(t, f, "chat", true, 0)
	expectEvent(t, a, hf.ID())
	_ = hf.Close()
	if e := expectEvent(t, a, hf.ID()); e.Kind != pb.PeerEvent_LEFT || e.Reason != pb.LeftReason_DISCONNECTED {
		t.Fatalf("after disconnect: %v %v, want LEFT DISCONNECTED", e.Kind, e.Reason)
	}
	eventually(t, "memberships to end", func() bool { return n.reg.Members("chat") == 1 })
}

func TestWatcherIsNotAMemberAndNeverSeesItself(t *testing.T) {
	n := newNode(t, nil)
	w, hw := n.dial(t)
	ack, _ := join(t, w, "ns", false, 0)
	if ack.Members != 0 || n.reg.Members("ns") != 0 {
		t.Fatalf("a watcher counts as a member: ack %d, registry %d", ack.Members, n.reg.Members("ns"))
	}
	// The same peer announcing on a second stream is not shown to itself.
	w2 := n.dialFrom(t, hw, 64)
	join(t, w2, "ns", true, 0)
	o, ho := n.dial(t)
	join(t, o, "ns", true, 0)
	for _, c := range []*Client{w, w2} {
		for seen := false; !seen; {
			u := nextUpdate(t, c)
			if _, ok := findEvent(u, hw.ID()); ok {
				t.Fatal("a view shows its own peer")
			}
			_, seen = findEvent(u, ho.ID())
		}
	}
}

func TestRendezvousMembersAndLiveMembersShareNamespaces(t *testing.T) {
	n := newNode(t, nil)
	// A peer registered through /rendezvous/1.0.0 shows up in the live view,
	// with its signed record.
	rp, env := signedMember(t, ma.StringCast("/ip4/1.2.3.4/tcp/4001/ws"))
	if _, err := n.reg.Register(registry.Registration{
		Namespace: "ns", Peer: rp, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/1.2.3.4/tcp/4001/ws")},
		Envelope: env, Format: registry.FormatPeerRecord, Source: registry.SourceRendezvous,
		Expiry: time.Now().Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	// A listening client: go-libp2p only signs a record when it has addresses.
	ha := testhost.New(t)
	a := n.dialFrom(t, ha, 64)
	_, snap := join(t, a, "ns", true, 0)
	e, ok := findEvent(snap, rp)
	if !ok || !bytes.Equal(e.SignedPeerRecord, env) {
		t.Fatalf("snapshot %+v lacks the rendezvous member with its record", snap)
	}
	if _, err := record.ConsumeTypedEnvelope(e.SignedPeerRecord, &peer.PeerRecord{}); err != nil {
		t.Fatalf("record does not verify: %v", err)
	}

	// The announced peer is listed to DISCOVER once the node holds its signed
	// record from identify.
	var reg registry.Registration
	eventually(t, "the live member's record", func() bool {
		regs, _ := n.reg.Discover("ns", 0, 10)
		for _, r := range regs {
			if r.Peer == ha.ID() && len(r.Envelope) > 0 {
				reg = r
				return true
			}
		}
		return false
	})
	env2, rec, err := record.ConsumeEnvelope(reg.Envelope, peer.PeerRecordEnvelopeDomain)
	if err != nil || rec.(*peer.PeerRecord).PeerID != ha.ID() || env2 == nil {
		t.Fatalf("live member's record: %v", err)
	}

	// A rendezvous UNREGISTER is a LEFT/LEFT in the live view.
	n.reg.Unregister("ns", rp, registry.SourceRendezvous, registry.ReasonUnregistered)
	if e := expectEvent(t, a, rp); e.Kind != pb.PeerEvent_LEFT || e.Reason != pb.LeftReason_LEFT {
		t.Fatalf("after UNREGISTER: %v %v", e.Kind, e.Reason)
	}
}

func TestAChangeToAQuietViewIsSentAtOnceAndTheNextOnesAreCoalesced(t *testing.T) {
	// An interval far longer than the wait below: only the leading edge can
	// deliver the first change in time.
	l := DefaultLimits()
	l.FlushInterval = setting.Duration(10 * time.Second)
	n := newNode(t, nil, WithLimits(l))
	w, _ := n.dial(t)
	join(t, w, "ns", false, 0)
	first, gone, marker := randomPeer(t), randomPeer(t), randomPeer(t)
	addr := []ma.Multiaddr{testAddr}
	register := func(p peer.ID) {
		t.Helper()
		if _, err := n.reg.Register(registry.Registration{Namespace: "ns", Peer: p, Addrs: addr, Source: registry.SourceLive}); err != nil {
			t.Fatal(err)
		}
	}
	register(first)
	u := nextUpdate(t, w) // waits far less than the interval
	if len(u.Events) != 1 || u.Events[0].Peer != first {
		t.Fatalf("first batch %+v, want the first peer's JOINED at once", u.Events)
	}
	// Inside the interval after that flush, changes wait and are coalesced.
	register(gone)
	register(marker)
	n.reg.Unregister("ns", gone, registry.SourceLive, registry.ReasonUnregistered)
	select {
	case m := <-w.C():
		t.Fatalf("a change inside the interval was sent at once: %+v", m)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestChangesInsideOneFlushWindowAreCoalesced(t *testing.T) {
	l := DefaultLimits()
	l.FlushInterval = setting.Duration(500 * time.Millisecond)
	n := newNode(t, nil, WithLimits(l))
	w, _ := n.dial(t)
	join(t, w, "ns", false, 0)
	opener, gone, marker := randomPeer(t), randomPeer(t), randomPeer(t)
	addr := []ma.Multiaddr{testAddr}
	register := func(p peer.ID) {
		t.Helper()
		if _, err := n.reg.Register(registry.Registration{Namespace: "ns", Peer: p, Addrs: addr, Source: registry.SourceLive}); err != nil {
			t.Fatal(err)
		}
	}
	register(opener) // sent at once: the view was quiet
	nextUpdate(t, w)
	register(gone)
	register(marker)
	n.reg.Unregister("ns", gone, registry.SourceLive, registry.ReasonUnregistered)
	u := nextUpdate(t, w)
	if len(u.Events) != 1 || u.Events[0].Peer != marker || u.Events[0].Kind != pb.PeerEvent_JOINED {
		t.Fatalf("batch %+v, want only the marker's JOINED", u.Events)
	}
}

func TestEveryRejectionHasItsStatusAndTheStreamStaysUsable(t *testing.T) {
	expect := func(t *testing.T, c *Client, ns string, want pb.JoinAck_Status) {
		t.Helper()
		r, err := c.Join(t.Context(), ns, true, 0)
		if got := statusOfErr(t, err); got != want {
			t.Fatalf("join %.20q: %v, want %v", ns, got, want)
		}
		if r.NS != ns || r.MaxPeers != 0 || r.Members != 0 {
			t.Fatalf("rejected ack %+v: must echo ns with zero max_peers and members", r)
		}
	}
	t.Run("invalid namespace", func(t *testing.T) {
		n := newNode(t, nil)
		c, _ := n.dial(t)
		expect(t, c, "", pb.JoinAck_E_INVALID_NAMESPACE)
		expect(t, c, strings.Repeat("x", 256), pb.JoinAck_E_INVALID_NAMESPACE)
		join(t, c, strings.Repeat("x", 255), true, 0)
		join(t, c, "ns", true, 0)
		expect(t, c, "ns", pb.JoinAck_E_INVALID_NAMESPACE) // already joined
		if err := c.Leave("ns"); err != nil {
			t.Fatal(err)
		}
		join(t, c, "ns", true, 0) // a join after a leave is new
	})
	t.Run("joins per stream", func(t *testing.T) {
		l := DefaultLimits()
		l.MaxJoinsPerStream = 2
		n := newNode(t, nil, WithLimits(l))
		c, _ := n.dial(t)
		join(t, c, "a", false, 0)
		join(t, c, "b", false, 0)
		expect(t, c, "c", pb.JoinAck_E_NOT_AUTHORIZED)
		_ = c.Leave("a")
		join(t, c, "c", false, 0)
	})
	t.Run("streams per peer", func(t *testing.T) {
		l := DefaultLimits()
		l.MaxStreamsPerPeer = 1
		n := newNode(t, nil, WithLimits(l))
		c, h := n.dial(t)
		join(t, c, "a", false, 0)
		second := n.dialFrom(t, h, 64)
		expect(t, second, "b", pb.JoinAck_E_NOT_AUTHORIZED)
		join(t, c, "b", false, 0)
	})
	t.Run("registry cap per peer", func(t *testing.T) {
		n := newNode(t, []registry.Option{withRegistryLimits(func(l *registry.Limits) { l.MaxRegistrationsPerPeer = 1 })})
		c, _ := n.dial(t)
		join(t, c, "a", true, 0)
		expect(t, c, "b", pb.JoinAck_E_NOT_AUTHORIZED)
		join(t, c, "b", false, 0) // watching needs no registration
	})
	t.Run("join rate", func(t *testing.T) {
		l := DefaultLimits()
		l.JoinRate, l.JoinBurst = 0.001, 2
		n := newNode(t, nil, WithLimits(l))
		c, h := n.dial(t)
		join(t, c, "a", false, 0)
		join(t, c, "b", false, 0)
		expect(t, c, "c", pb.JoinAck_E_UNAVAILABLE)
		// A new stream does not refill the bucket.
		_ = c.Close()
		expect(t, n.dialFrom(t, h, 64), "c", pb.JoinAck_E_UNAVAILABLE)
	})
	t.Run("views on the node", func(t *testing.T) {
		l := DefaultLimits()
		l.MaxViews = 1
		n := newNode(t, nil, WithLimits(l))
		c, _ := n.dial(t)
		join(t, c, "a", false, 0)
		other, _ := n.dial(t)
		expect(t, other, "a", pb.JoinAck_E_UNAVAILABLE)
		_ = c.Leave("a")
		eventually(t, "the view to be freed", func() bool { return n.svc.Stats().Views == 0 })
		join(t, other, "a", false, 0)
	})
	t.Run("registry full", func(t *testing.T) {
		n := newNode(t, []registry.Option{withRegistryLimits(func(l *registry.Limits) { l.MaxRegistrations = 1 })})
		c, _ := n.dial(t)
		join(t, c, "a", true, 0)
		other, _ := n.dial(t)
		expect(t, other, "a", pb.JoinAck_E_UNAVAILABLE)
	})
	t.Run("internal error", func(t *testing.T) {
		// A node without addresses cannot give a member a circuit address.
		n := newNodeOn(t, testhost.NewClient(t), nil)
		h := testhost.New(t)
		testhost.Connect(t, n.h, h)
		c, err := Dial(t.Context(), h, n.h.ID())
		if err != nil {
			t.Fatal(err)
		}
		expect(t, c, "a", pb.JoinAck_E_INTERNAL_ERROR)
		join(t, c, "a", false, 0)
	})
}

func TestMaxPeersIsDefaultedAndClamped(t *testing.T) {
	l := DefaultLimits()
	l.DefaultMaxPeers, l.MaxPeers = 8, 32
	n := newNode(t, nil, WithLimits(l))
	c, _ := n.dial(t)
	if r, _ := join(t, c, "a", false, 0); r.MaxPeers != 8 {
		t.Fatalf("default: %d", r.MaxPeers)
	}
	if r, _ := join(t, c, "b", false, 1000); r.MaxPeers != 32 {
		t.Fatalf("clamped: %d", r.MaxPeers)
	}
	if r, _ := join(t, c, "c", false, 5); r.MaxPeers != 5 {
		t.Fatalf("asked: %d", r.MaxPeers)
	}
}

func TestUndecodableOrOversizedClientMessageResetsTheStream(t *testing.T) {
	n := newNode(t, nil)
	for name, frame := range map[string][]byte{
		"over 4 KiB":    appendFrame(nil, make([]byte, MaxClientMessageSize+1)),
		"invalid UTF-8": appendFrame(nil, []byte{0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe}), // join{ns: "\xff\xfe"}
		"garbage":       appendFrame(nil, []byte{0xff, 0xff, 0xff}),
	} {
		t.Run(name, func(t *testing.T) {
			h := testhost.NewClient(t)
			testhost.Connect(t, h, n.h)
			s, err := h.NewStream(t.Context(), n.h.ID(), ProtoID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(frame); err != nil {
				t.Fatal(err)
			}
			_ = s.SetReadDeadline(time.Now().Add(waitFor))
			_, err = s.Read(make([]byte, 1))
			if err == nil || !strings.Contains(err.Error(), "reset") {
				t.Fatalf("read: %v, want a reset", err)
			}
		})
	}
}

func TestOpenStreamProtectsThePeerUntilItsLastStreamEnds(t *testing.T) {
	n := newNode(t, nil)
	c, h := n.dial(t)
	join(t, c, "a", false, 0)
	if !n.h.ConnManager().IsProtected(h.ID(), protectTag) {
		t.Fatal("peer with a live stream is not protected")
	}
	_ = c.Close()
	eventually(t, "unprotect", func() bool { return !n.h.ConnManager().IsProtected(h.ID(), protectTag) })
}

func TestCloseSendsShutdownForEveryJoinedNamespace(t *testing.T) {
	n := newNode(t, nil)
	c, h := n.dial(t)
	join(t, c, "a", true, 0)
	join(t, c, "b", false, 0)
	if err := n.svc.Close(); err != nil {
		t.Fatal(err)
	}
	_ = n.svc.Close() // idempotent
	got := map[string]pb.Closed_CloseReason{}
	for range 2 {
		m, ok := next(t, c).(*Closed)
		if !ok {
			t.Fatalf("got %T, want Closed", m)
		}
		got[m.NS] = m.Reason
	}
	if got["a"] != pb.Closed_SHUTDOWN || got["b"] != pb.Closed_SHUTDOWN {
		t.Fatalf("closed: %v", got)
	}
	if n.reg.Members("a") != 0 || n.h.ConnManager().IsProtected(h.ID(), protectTag) {
		t.Fatal("membership or protection left after Close")
	}
}

func TestSlowReaderIsClosedWithOverflowWhileOthersKeepReceiving(t *testing.T) {
	l := DefaultLimits()
	l.FlushInterval, l.MaxPendingEvents = setting.Duration(50*time.Millisecond), 1000
	n := newNode(t, nil, WithLimits(l))
	fast, _ := n.dial(t)
	join(t, fast, "ns", false, 256)
	slow := n.dialFrom(t, testhost.NewClient(t), 1) // stops reading once its buffer is full
	join(t, slow, "ns", false, 256)

	// 200 members, each re-registered with new addresses every round: about
	// 100 KiB of UPDATED per round to each view.
	members := randomPeers(t, 200)
	addrs := func(round int) []ma.Multiaddr {
		out := make([]ma.Multiaddr, 16)
		for i := range out {
			out[i] = ma.StringCast("/dns4/member-" + strings.Repeat("x", 20) + ".example.com/tcp/" + strconv.Itoa(1000+round) + "/wss")
			out[i] = out[i].Encapsulate(ma.StringCast("/p2p-circuit"))
		}
		return out
	}
	stop := make(chan struct{})
	fastGot := make(chan int, 1)
	go func() { // the fast reader keeps reading all along
		n := 0
		for {
			select {
			case m, ok := <-fast.C():
				if !ok {
					fastGot <- n
					return
				}
				if _, ok := m.(*Closed); ok {
					fastGot <- -1
					return
				}
				n++
			case <-stop:
				fastGot <- n
				return
			}
		}
	}()
	for round := 0; n.svc.Stats().Views == 2; round++ {
		if round > 200 {
			t.Fatal("the slow view never overflowed")
		}
		for _, p := range members {
			if _, err := n.reg.Register(registry.Registration{Namespace: "ns", Peer: p, Addrs: addrs(round), Source: registry.SourceLive}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(60 * time.Millisecond)
	}
	// The fast view is alive and still gets changes promptly.
	marker := randomPeer(t)
	if _, err := n.reg.Register(registry.Registration{Namespace: "ns", Peer: marker, Addrs: []ma.Multiaddr{testAddr}, Source: registry.SourceLive}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if got := <-fastGot; got <= 0 {
		t.Fatalf("fast reader: %d updates (negative: closed)", got)
	}
	expectEvent(t, fast, marker)

	// The slow reader, reading again, finds Closed{OVERFLOW} after what was
	// already under way.
	deadline := time.After(waitFor)
	for {
		select {
		case m, ok := <-slow.C():
			if !ok {
				t.Fatalf("slow stream ended without Closed: %v", slow.Err())
			}
			if cl, ok := m.(*Closed); ok {
				if cl.Reason != pb.Closed_OVERFLOW || cl.NS != "ns" {
					t.Fatalf("closed %+v, want OVERFLOW", cl)
				}
				return
			}
		case <-deadline:
			t.Fatal("no Closed{OVERFLOW}")
		}
	}
}

func TestClientThatSendsButNeverReadsIsPushedBack(t *testing.T) {
	n := newNode(t, nil)
	h := testhost.NewClient(t)
	testhost.Connect(t, h, n.h)
	s, err := h.NewStream(t.Context(), n.h.ID(), ProtoID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Reset() })
	// 5,000 rejected joins (a 256-byte namespace, echoed in each ack) ask for
	// about 1.3 MB of acks; the node must stop reading once its queue and the
	// stream window are full instead of queueing them all.
	b, _ := proto.Marshal(&pb.ClientMessage{Msg: &pb.ClientMessage_Join{Join: &pb.Join{Ns: strings.Repeat("x", 256)}}})
	flood := bytes.Repeat(appendFrame(nil, b), 5_000)
	_ = s.SetWriteDeadline(time.Now().Add(3 * time.Second))
	if _, err := s.Write(flood); err == nil {
		t.Fatal("the node read everything without the acks being read")
	}
}

// Close used to close the read side first, which woke the read loop into a
// reset that could beat the write side's FIN: Close then failed with "stream
// reset" and the node reported a disconnect instead of a leave.
func TestClientCloseIsACleanLeaveEveryTime(t *testing.T) {
	n := newNode(t, nil)
	a, _ := n.dial(t)
	join(t, a, "chat", true, 0)
	for i := range 10 {
		_, h := n.dial(t)
		c := n.dialFrom(t, h, 1) // a one-message buffer nobody drains
		join(t, c, "chat", true, 0)
		expectEvent(t, a, h.ID())
		if err := c.Close(); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
		if err := c.Err(); err != nil {
			t.Fatalf("close %d: Err() = %v after Close, want nil", i, err)
		}
		if e := expectEvent(t, a, h.ID()); e.Kind != pb.PeerEvent_LEFT || e.Reason != pb.LeftReason_LEFT {
			t.Fatalf("close %d: %v %v, want LEFT LEFT", i, e.Kind, e.Reason)
		}
	}
}

// A consumer that stopped reading leaves the client's read loop waiting to
// deliver; Close must still end it, and with it the stream's goroutines.
func TestClientCloseEndsItsReadLoopWhenNobodyReads(t *testing.T) {
	n := newNode(t, nil)
	other, _ := n.dial(t)
	join(t, other, "ns", false, 0)
	c := n.dialFrom(t, testhost.NewClient(t), 1)
	join(t, c, "ns", false, 0)
	// Three updates in three flush windows (the other watcher sees each): one
	// fills the buffer, the next waits in the read loop's delivery.
	for i := range 3 {
		p := randomPeer(t)
		if _, err := n.reg.Register(registry.Registration{Namespace: "ns", Peer: p, Addrs: []ma.Multiaddr{testAddr}, Source: registry.SourceLive}); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, other, p)
		if i == 0 {
			eventually(t, "the buffer to fill", func() bool { return len(c.C()) == cap(c.C()) })
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(waitFor):
		t.Fatal("the read loop still runs after Close")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err() = %v after Close, want nil", err)
	}
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-c.C():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("C() not closed after Close")
		}
	}
}

// serviceStreams counts the streams the resource manager holds for the
// protocol. The swarm releases an inbound stream once its handler has
// returned and the stream is closed or reset.
func serviceStreams(t *testing.T, n *testNode) int {
	t.Helper()
	var count int
	err := n.h.Network().ResourceManager().ViewService(ServiceName, func(s network.ServiceScope) error {
		st := s.Stat()
		count = st.NumStreamsInbound + st.NumStreamsOutbound
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}

func TestCloseReturnsOnlyWhenNoStreamHandlerRuns(t *testing.T) {
	l := DefaultLimits()
	l.MaxStreamsPerPeer = 1
	n := newNode(t, nil, WithLimits(l))
	h := testhost.NewClient(t)
	c := n.dialFrom(t, h, 64)
	join(t, c, "ns", false, 0)
	// A second stream is over the cap: its handler waits (up to a read
	// deadline of seconds) for a Join to refuse, and gets only the first byte
	// of one.
	s, err := h.NewStream(t.Context(), n.h.ID(), ProtoID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Reset() })
	if _, err := s.Write([]byte{0x10}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both handlers to run", func() bool { return serviceStreams(t, n) == 2 })

	if err := n.svc.Close(); err != nil {
		t.Fatal(err)
	}
	n.svc.mu.Lock()
	sessions := len(n.svc.sessions)
	n.svc.mu.Unlock()
	if sessions != 0 {
		t.Fatalf("%d sessions still open after Close", sessions)
	}
	// The refusing handler was ended by Close, not by its own deadline (which
	// closes the stream instead).
	_ = s.SetReadDeadline(time.Now().Add(2 * waitFor))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, network.ErrReset) {
		t.Fatalf("refused stream: read %v, want a reset by Close", err)
	}
	eventually(t, "the handlers' streams to be released", func() bool { return serviceStreams(t, n) == 0 })
	_ = n.svc.Close() // idempotent
}

func TestCloseReturnsOnlyOnceEveryPeerHasItsShutdownEvenIfTheHostClosesNext(t *testing.T) {
	n := newNode(t, nil)
	const peers = 40
	var got atomic.Int32
	for range peers {
		c, _ := n.dial(t)
		join(t, c, "room", true, 0)
		// Like a reconnecting client: read the goodbye, then drop the stream.
		go func() {
			for m := range c.C() {
				if cl, ok := m.(*Closed); ok && cl.Reason == pb.Closed_SHUTDOWN {
					got.Add(1)
					_ = c.Reset()
					return
				}
			}
		}()
	}
	if err := n.svc.Close(); err != nil {
		t.Fatal(err)
	}
	// The node closes its host right after its services: nothing queued for
	// the peers may be left behind by then.
	_ = n.h.Close()
	if g := got.Load(); g != peers {
		t.Fatalf("%d of %d peers had their SHUTDOWN when Close returned", g, peers)
	}
}
