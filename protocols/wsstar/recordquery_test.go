package wsstar

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	idpb "github.com/libp2p/go-libp2p/p2p/protocol/identify/pb"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/registry"
)

func delimited(t testing.TB, msgs ...*idpb.Identify) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

// A js-libp2p browser peer: identified on connect with no address (so no
// record), then it reserves a relay slot and announces without an identify
// push. The node asks identify again and lists the member with its record.
func TestAnnouncedPeerIdentifiedWithoutRecordGetsOneAfterAnnouncing(t *testing.T) {
	n := newNode(t, nil)
	w, _ := n.dial(t)
	join(t, w, "ns", false, 0)

	hc := testhost.NewClient(t)
	testhost.Connect(t, hc, n.h)
	ids, ok := n.h.(interface{ IDService() identify.IDService })
	if !ok {
		t.Fatalf("%T has no identify service", n.h)
	}
	for _, c := range n.h.Network().ConnsToPeer(hc.ID()) {
		<-ids.IDService().IdentifyWait(c)
	}
	n.svc.mu.Lock()
	_, had := n.svc.records[hc.ID()]
	n.svc.mu.Unlock()
	if had {
		t.Fatal("the node holds a record from the first identify of a peer without addresses")
	}

	// From now on the peer answers identify with a record of its circuit
	// address, as js-libp2p does once it holds a reservation.
	circuit := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + n.h.ID().String() + "/p2p-circuit")
	env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: hc.ID(), Addrs: []ma.Multiaddr{circuit}}), hc.Peerstore().PrivKey(hc.ID()))
	if err != nil {
		t.Fatal(err)
	}
	envBytes, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	answer := delimited(t, &idpb.Identify{ListenAddrs: [][]byte{circuit.Bytes()}, SignedPeerRecord: envBytes})
	hc.SetStreamHandler(identify.ID, func(s network.Stream) {
		defer s.Close()
		_, _ = s.Write(answer)
	})

	a := n.dialFrom(t, hc, 64)
	join(t, a, "ns", true, 0)
	// The watcher learns the member, then (or at once) its record.
	for {
		e := expectEvent(t, w, hc.ID())
		if len(e.SignedPeerRecord) == 0 {
			continue
		}
		if !bytes.Equal(e.SignedPeerRecord, envBytes) {
			t.Fatal("the member's record is not the one the peer answered with")
		}
		break
	}
	regs, _ := n.reg.Discover("ns", 0, 10)
	found := false
	for _, r := range regs {
		if r.Peer == hc.ID() {
			found = r.Source == registry.SourceLive && bytes.Equal(r.Envelope, envBytes)
		}
	}
	if !found {
		t.Fatalf("DISCOVER %+v lacks the live member with its record", regs)
	}
}

func FuzzReadSignedRecord(f *testing.F) {
	f.Add(delimited(f, &idpb.Identify{SignedPeerRecord: []byte("record")}))
	f.Add(delimited(f, &idpb.Identify{AgentVersion: proto.String("js")}, &idpb.Identify{SignedPeerRecord: []byte("r")}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := readSignedRecord(bytes.NewReader(b))
		if err != nil && rec != nil {
			t.Fatal("a record with an error")
		}
		if len(rec) > maxIdentifyMessage {
			t.Fatalf("record of %d bytes", len(rec))
		}
	})
}

// forgedRecord is a record naming p but signed by another key: its
// signature is valid, its signer is not p.
func forgedRecord(t *testing.T, p peer.ID, addrs ...ma.Multiaddr) []byte {
	t.Helper()
	return sealRecord(t, p, mustKey(t), addrs...)
}

func consumed(t *testing.T, b []byte) *record.Envelope {
	t.Helper()
	env, _, err := record.ConsumeEnvelope(b, peer.PeerRecordEnvelopeDomain)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (n *testNode) heldRecord(p peer.ID) []byte {
	n.svc.mu.Lock()
	defer n.svc.mu.Unlock()
	return n.svc.records[p].env
}

func TestRecordSignedByAnotherKeyIsNotServed(t *testing.T) {
	circuitOf := func(n *testNode) ma.Multiaddr {
		return ma.StringCast("/ip4/127.0.0.1/tcp/1/ws/p2p/" + n.h.ID().String() + "/p2p-circuit")
	}
	t.Run("record query", func(t *testing.T) {
		n := newNode(t, nil)
		hc := testhost.NewClient(t)
		forged := forgedRecord(t, hc.ID(), circuitOf(n))
		answer := delimited(t, &idpb.Identify{SignedPeerRecord: forged})
		hc.SetStreamHandler(identify.ID, func(s network.Stream) {
			defer s.Close()
			_, _ = s.Write(answer)
		})
		a := n.dialFrom(t, hc, 64)
		join(t, a, "ns", true, 0)
		eventually(t, "the record query to end", func() bool {
			n.svc.mu.Lock()
			defer n.svc.mu.Unlock()
			ps := n.svc.peers[hc.ID()]
			return ps != nil && ps.askedRecord && n.svc.recordQueries == 0
		})
		if n.heldRecord(hc.ID()) != nil {
			t.Fatal("the node holds a record signed by another key")
		}
		regs, _ := n.reg.Discover("ns", 0, 10)
		for _, r := range regs {
			if r.Peer == hc.ID() && len(r.Envelope) > 0 {
				t.Fatal("DISCOVER serves a record signed by another key")
			}
		}
	})
	t.Run("identify event", func(t *testing.T) {
		n := newNode(t, nil)
		forgedPeer, honestPeer := testhost.NewClient(t), testhost.NewClient(t)
		testhost.Connect(t, forgedPeer, n.h)
		testhost.Connect(t, honestPeer, n.h)
		em, err := n.h.EventBus().Emitter(new(event.EvtPeerIdentificationCompleted))
		if err != nil {
			t.Fatal(err)
		}
		defer em.Close()
		_ = em.Emit(event.EvtPeerIdentificationCompleted{Peer: forgedPeer.ID(),
			SignedPeerRecord: consumed(t, forgedRecord(t, forgedPeer.ID(), circuitOf(n)))})
		env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: honestPeer.ID(), Addrs: []ma.Multiaddr{circuitOf(n)}}),
			honestPeer.Peerstore().PrivKey(honestPeer.ID()))
		if err != nil {
			t.Fatal(err)
		}
		_ = em.Emit(event.EvtPeerIdentificationCompleted{Peer: honestPeer.ID(), SignedPeerRecord: env})
		// Events are handled in order: once the honest record is held, the
		// forged one has been seen.
		eventually(t, "the honest record", func() bool { return n.heldRecord(honestPeer.ID()) != nil })
		if n.heldRecord(forgedPeer.ID()) != nil {
			t.Fatal("the node holds a record signed by another key")
		}
	})
}

// identifiedEvents returns count identify events, each for its own peer with a
// record that peer signed. They carry a real connection to the node, as the
// bus's other subscribers expect.
func identifiedEvents(t *testing.T, n *testNode, count int) []event.EvtPeerIdentificationCompleted {
	t.Helper()
	hc := testhost.NewClient(t)
	testhost.Connect(t, hc, n.h)
	conns := n.h.Network().ConnsToPeer(hc.ID())
	if len(conns) == 0 {
		t.Fatal("no connection")
	}
	out := make([]event.EvtPeerIdentificationCompleted, count)
	for i := range out {
		priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{testAddr}}), priv)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = event.EvtPeerIdentificationCompleted{Peer: id, Conn: conns[0], SignedPeerRecord: env}
	}
	return out
}

// emitWhileBusy emits evs on the node's bus while the service lock is held
// and reports whether the emitter got through them without waiting for it.
func emitWhileBusy(t *testing.T, n *testNode, evs []event.EvtPeerIdentificationCompleted) bool {
	t.Helper()
	em, err := n.h.EventBus().Emitter(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	n.svc.mu.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, ev := range evs {
			_ = em.Emit(ev)
		}
	}()
	ok := true
	select {
	case <-done:
	case <-time.After(waitFor):
		ok = false
	}
	n.svc.mu.Unlock()
	<-done
	return ok
}

// go-libp2p's identify emits on the host's bus for every peer: a busy service
// must never hold it up.
func TestIdentifyEventsDoNotWaitForABusyService(t *testing.T) {
	n := newNode(t, nil)
	if !emitWhileBusy(t, n, identifiedEvents(t, n, 200)) {
		t.Fatal("identify events blocked the emitter while the service was busy")
	}
}

func TestIdentifyRecordsOverThePendingBoundAreDroppedAndCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	n := newNode(t, nil, WithRegisterer(reg), withMaxPendingRecords(8))
	evs := identifiedEvents(t, n, 20)
	// The same peers again: a newer record replaces a pending one.
	evs = append(evs, evs[:8]...)
	if !emitWhileBusy(t, n, evs) {
		t.Fatal("identify events blocked the emitter while the service was busy")
	}
	eventually(t, "12 records dropped", func() bool {
		return gathered(t, reg)["rendezvous_wsstar_identify_records_dropped_total"] == 12
	})
}
