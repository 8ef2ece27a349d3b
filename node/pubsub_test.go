package node

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	idpb "github.com/libp2p/go-libp2p/p2p/protocol/identify/pb"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testpubsub"
	"github.com/ws-star/rendezvous/protocols/pubsub"
	"github.com/ws-star/rendezvous/protocols/rendezvous"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// pubsubConfig announces members every second, so tests need not wait for
// pubsub-peer-discovery's 10 s.
func pubsubConfig(t testing.TB) config.Config {
	c := testConfig(t)
	c.Pubsub.AnnounceInterval = config.Duration(time.Second)
	return c
}

// pubsubApp is an app on h relayed through n, as a browser is: a
// reservation, then its circuit address announced on the discovery topic.
func pubsubApp(t testing.TB, n *Node, h host.Host) *testpubsub.App {
	t.Helper()
	reserve(t, t.Context(), h, n)
	a := testpubsub.NewOn(t, h, nodeInfo(n), pubsub.DiscoveryTopic)
	a.Announce()
	return a
}

func TestAPubsubAppIsFoundByWSStarWatchersAndRendezvousDiscover(t *testing.T) {
	n := startNode(t, pubsubConfig(t))
	w := watcher(t, testhost.NewClient(t), n, pubsub.DiscoveryTopic, false)
	// A host with a listen address: go-libp2p signs a peer record only for
	// a host that has addresses (a browser has its circuit ones).
	a := pubsubApp(t, n, testhost.New(t))

	ev := nextEvent(t, w, a.H.ID(), pb.PeerEvent_JOINED)
	if len(ev.Addrs) == 0 || !ev.Addrs[0].Equal(a.RelayAddr()) {
		t.Errorf("ws-star watcher saw addrs %v, want %s", ev.Addrs, a.RelayAddr())
	}

	seeker := testhost.NewClient(t)
	if err := seeker.Connect(t.Context(), nodeInfo(n)); err != nil {
		t.Fatal(err)
	}
	rc := rendezvous.NewClient(seeker, n.Host.ID())
	defer rc.Close()
	// DISCOVER answers with signed records only: the app's is the one
	// identify gave the node.
	var regs []rendezvous.Registration
	testhost.Eventually(t, "DISCOVER returning the app", func() bool {
		var err error
		regs, _, err = rc.Discover(t.Context(), pubsub.DiscoveryTopic, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(regs) == 1 {
			return true
		}
		time.Sleep(300 * time.Millisecond) // within rendezvous.request_rate
		return false
	})
	if regs[0].Peer != a.H.ID() {
		t.Fatalf("DISCOVER returned %v, want the app", regs[0].Peer)
	}

	// The app disconnects: watchers see it leave.
	if err := a.H.Close(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, w, a.H.ID(), pb.PeerEvent_LEFT)
}

// A js-libp2p app configured as pubsub-peer-discovery's README does: the
// node identifies it on connect, before its relay reservation, when it has no
// address and so no signed record; it then announces its circuit address
// without identify push. DISCOVER answers with signed records only: the node
// asks the app for its record.
func TestABrowserPubsubAppWithoutIdentifyPushIsFoundByRendezvousDiscover(t *testing.T) {
	n := startNode(t, pubsubConfig(t))
	h := testhost.NewClient(t)
	reserve(t, t.Context(), h, n)
	ids, ok := n.Host.(interface{ IDService() identify.IDService })
	if !ok {
		t.Fatalf("%T has no identify service", n.Host)
	}
	for _, c := range n.Host.Network().ConnsToPeer(h.ID()) {
		<-ids.IDService().IdentifyWait(c)
	}
	if rec, ok := n.WSStar.PeerRecord(h.ID()); ok {
		t.Fatalf("the node holds a record (%d bytes) from identifying a peer without addresses", len(rec))
	}

	// From now on the app answers identify with a record of its circuit
	// address, as js-libp2p does once it holds a reservation.
	circuit := circuitAddr(t, n)
	env, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: h.ID(), Addrs: []ma.Multiaddr{circuit}}), h.Peerstore().PrivKey(h.ID()))
	if err != nil {
		t.Fatal(err)
	}
	envBytes, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	answer, err := proto.Marshal(&idpb.Identify{ListenAddrs: [][]byte{circuit.Bytes()}, SignedPeerRecord: envBytes})
	if err != nil {
		t.Fatal(err)
	}
	h.SetStreamHandler(identify.ID, func(s network.Stream) {
		defer s.Close()
		_, _ = s.Write(append(binary.AppendUvarint(nil, uint64(len(answer))), answer...))
	})
	a := testpubsub.NewOn(t, h, nodeInfo(n), pubsub.DiscoveryTopic)
	a.Announce()

	seeker := testhost.NewClient(t)
	if err := seeker.Connect(t.Context(), nodeInfo(n)); err != nil {
		t.Fatal(err)
	}
	rc := rendezvous.NewClient(seeker, n.Host.ID())
	defer rc.Close()
	testhost.Eventually(t, "DISCOVER returning the app with its record", func() bool {
		regs, _, err := rc.Discover(t.Context(), pubsub.DiscoveryTopic, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(regs) == 1 && regs[0].Peer == h.ID() && bytes.Equal(regs[0].Envelope, envBytes) {
			return true
		}
		time.Sleep(300 * time.Millisecond) // within rendezvous.request_rate
		return false
	})
}

func TestPubsubAppsLearnWSStarAndRendezvousMembers(t *testing.T) {
	n := startNode(t, pubsubConfig(t))
	a := pubsubApp(t, n, testhost.NewClient(t))
	live, _ := liveMember(t, n, pubsub.DiscoveryTopic)

	registrant := testhost.New(t)
	testhost.Connect(t, registrant, n.Host)
	rc := rendezvous.NewClient(registrant, n.Host.ID())
	defer rc.Close()
	if _, err := rc.Register(t.Context(), pubsub.DiscoveryTopic, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, p := range []peer.ID{live.ID(), registrant.ID()} {
		testhost.Eventually(t, "the app learning the member", func() bool { return a.Knows(p) })
		if len(a.Learned(p)) == 0 {
			t.Errorf("member %s announced without addresses", p)
		}
	}
}

func TestPubsubOffServesNoGossipsub(t *testing.T) {
	c := testConfig(t)
	c.Pubsub.Enabled = false
	n := startNode(t, c)
	if n.Pubsub != nil {
		t.Fatal("pubsub service started with pubsub.enabled false")
	}
	for _, p := range n.Host.Mux().Protocols() {
		if p == "/meshsub/1.1.0" {
			t.Fatalf("the node speaks %s with pubsub off", p)
		}
	}
}

func TestPubsubAppsOnDifferentClusterNodesFindEachOther(t *testing.T) {
	cfgs := embeddedClusterConfigs(t, 3)
	for i := range cfgs {
		cfgs[i].Pubsub.AnnounceInterval = config.Duration(time.Second)
	}
	nodes := []*Node{startNode(t, cfgs[0]), startNode(t, cfgs[1]), startNode(t, cfgs[2])}
	waitReady(t, nodes...)
	w := watcher(t, testhost.NewClient(t), nodes[1], pubsub.DiscoveryTopic, false)
	a := pubsubApp(t, nodes[0], testhost.NewClient(t))
	b := pubsubApp(t, nodes[1], testhost.NewClient(t))

	nextEvent(t, w, a.H.ID(), pb.PeerEvent_JOINED)
	testhost.Eventually(t, "the app on node 1 learning the app on node 0", func() bool { return b.Knows(a.H.ID()) })
	testhost.Eventually(t, "the app on node 0 learning the app on node 1", func() bool { return a.Knows(b.H.ID()) })
	if got := b.Learned(a.H.ID()); len(got) == 0 || !got[0].Equal(a.CircuitAddr()) {
		t.Errorf("learned %v, want the address through node 0 %s", got, a.CircuitAddr())
	}
}
