package pubsub

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/netaddr"

	"github.com/libp2p/go-libp2p"
	gs "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
)

// Two apps connected to each other as well as to the node (browsers after
// their WebRTC upgrade) forward each other's announcements to the node, and
// the forwarded copy can arrive before the author's own: gossipsub then drops
// the author's copy as a duplicate. Here the author's gossipsub runs on a
// second host with its identity that reaches the node only through the other
// app, so the node only ever gets forwarded copies, while the author's first
// host is connected to the node as the author would be.
func TestAnAnnouncementForwardedByAnotherAppCountsForItsConnectedAuthor(t *testing.T) {
	n := newNode(t)
	forwarder := newApp(t, n, DiscoveryTopic)
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	connected := testhost.NewClient(t, libp2p.Identity(key))
	testhost.Connect(t, connected, n.h)
	author := connected.ID()

	// The author's gossipsub, connected only to the forwarder.
	h := testhost.New(t, libp2p.Identity(key))
	testhost.Connect(t, forwarder.H, h)
	ps, err := gs.NewGossipSub(t.Context(), h, gs.WithFloodPublish(true))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(DiscoveryTopic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	addr := n.h.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + n.h.ID().String() + "/p2p-circuit/p2p/" + author.String()))
	data, err := encodeAnnouncement(key.GetPublic(), []ma.Multiaddr{addr})
	if err != nil {
		t.Fatal(err)
	}
	// The forwarder passes messages on to its mesh, which the node joins at
	// a heartbeat: announce once a second (the node's rate) until the node
	// has seen a forwarded copy.
	deadline := time.Now().Add(10 * time.Second)
	for !isMember(n.reg, DiscoveryTopic, author) && n.count(DiscoveryTopic, Indirect) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the node saw no forwarded announcement in 10 s")
		}
		if err := topic.Publish(t.Context(), data); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	testhost.Eventually(t, "the author registered from the forwarded copy", func() bool { return isMember(n.reg, DiscoveryTopic, author) })
	reg, _ := n.reg.Get(DiscoveryTopic, author)
	if want := netaddr.WithoutPeer(addr, author); len(reg.Addrs) != 1 || !reg.Addrs[0].Equal(want) {
		t.Errorf("registered addrs %v, want [%s]", reg.Addrs, want)
	}

	// The membership is bound to the author's connection to the node: it
	// ends with it, and forwarded copies do not bring it back.
	if err := connected.Close(); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "the author's membership ended", func() bool { return !isMember(n.reg, DiscoveryTopic, author) })
	before := n.count(DiscoveryTopic, Indirect)
	testhost.Eventually(t, "a forwarded copy of a disconnected author ignored", func() bool {
		if err := topic.Publish(t.Context(), data); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		return n.count(DiscoveryTopic, Indirect) > before
	})
	if isMember(n.reg, DiscoveryTopic, author) {
		t.Error("a forwarded copy made an author that is not connected to the node a member")
	}
}

// A forwarded copy older than the author's last counted announcement (a
// replay, by an app that kept it, of addresses since changed) is ignored.
func TestAForwardedAnnouncementOlderThanTheLastCountedIsIgnored(t *testing.T) {
	n := newNode(t)
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	connected := testhost.NewClient(t, libp2p.Identity(key))
	testhost.Connect(t, connected, n.h)
	author, forwarder := connected.ID(), newPeerID(t)
	validate := n.svc.validateAnnouncement(n.svc.topics[DiscoveryTopic])
	announcement := func(from peer.ID, seqno uint64, addr string) gs.ValidationResult {
		data, err := encodeAnnouncement(key.GetPublic(), []ma.Multiaddr{ma.StringCast(addr)})
		if err != nil {
			t.Fatal(err)
		}
		topic := DiscoveryTopic
		m := &gs.Message{Message: &pubsubpb.Message{From: []byte(author), Data: data, Seqno: binary.BigEndian.AppendUint64(nil, seqno), Topic: &topic}, ReceivedFrom: from}
		return validate(t.Context(), from, m)
	}
	const newer, older = "/ip4/127.0.0.1/tcp/2/ws", "/ip4/127.0.0.1/tcp/1/ws"
	announcement(forwarder, 20, newer)
	testhost.Eventually(t, "the author registered", func() bool { return isMember(n.reg, DiscoveryTopic, author) })
	announcement(forwarder, 10, older)
	if got := n.count(DiscoveryTopic, Indirect); got != 1 {
		t.Errorf("indirect count %v, want 1 (the older copy)", got)
	}
	time.Sleep(200 * time.Millisecond)
	if reg, _ := n.reg.Get(DiscoveryTopic, author); len(reg.Addrs) != 1 || reg.Addrs[0].String() != newer {
		t.Errorf("registered addrs %v, want [%s]", reg.Addrs, newer)
	}
}
