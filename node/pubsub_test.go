package node

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

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
