package pubsub

import (
	"fmt"
	"testing"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testpubsub"
	"github.com/ws-star/rendezvous/registry"
)

func TestAppsConnectedOnlyToTheNodeFindEachOther(t *testing.T) {
	n := newNode(t)
	apps := []*testpubsub.App{newApp(t, n, DiscoveryTopic), newApp(t, n, DiscoveryTopic), newApp(t, n, DiscoveryTopic)}
	for _, a := range apps {
		a.Announce()
	}
	for i, a := range apps {
		for j, b := range apps {
			if i != j {
				testhost.Eventually(t, "each app learning every other", func() bool { return a.Knows(b.H.ID()) })
			}
		}
		if !isMember(n.reg, DiscoveryTopic, a.H.ID()) {
			t.Errorf("app %d is not a member of namespace %s", i, DiscoveryTopic)
		}
	}
	// What they learned came from the node, with the circuit address the
	// app announced.
	for _, a := range apps {
		for _, b := range apps {
			if a != b && a.HeardFrom(b.H.ID()) != 0 {
				t.Errorf("an app's own announcement was forwarded to another app")
			}
		}
	}
	a, b := apps[0], apps[1]
	got := a.Learned(b.H.ID())
	if len(got) != 1 || !got[0].Equal(b.CircuitAddr()) {
		t.Errorf("learned addrs %v, want [%s]", got, b.CircuitAddr())
	}
	if got := n.count(DiscoveryTopic, Announced); got < 3 {
		t.Errorf("announced count %v, want >= 3", got)
	}
}

func TestAnAppThatDisconnectsLeavesItsNamespace(t *testing.T) {
	n := newNode(t)
	a := newApp(t, n, DiscoveryTopic)
	left := make(chan registry.Event, 4)
	cancel := n.reg.Subscribe(DiscoveryTopic, func(ev registry.Event) {
		if ev.Kind == registry.Left {
			left <- ev
		}
	})
	defer cancel()
	a.Announce()
	testhost.Eventually(t, "the app registered", func() bool { return isMember(n.reg, DiscoveryTopic, a.H.ID()) })
	if err := a.H.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-left:
		if ev.Reg.Peer != a.H.ID() || ev.Reason != registry.ReasonDisconnected {
			t.Errorf("left event %+v, want the app, disconnected", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no LEFT after the app disconnected")
	}
}

func TestAMemberOfAnyProtocolIsAnnouncedToApps(t *testing.T) {
	n := newNode(t)
	a := newApp(t, n, DiscoveryTopic)
	a.Announce()
	// A rendezvous registration and a live (ws-star) member of the same
	// namespace, as those protocols write them.
	rdv, live := newPeerID(t), newPeerID(t)
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/4001/ws")
	if _, err := n.reg.Register(registry.Registration{Namespace: DiscoveryTopic, Peer: rdv, Addrs: []ma.Multiaddr{addr}, Source: registry.SourceRendezvous, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.reg.Register(registry.Registration{Namespace: DiscoveryTopic, Peer: live, Addrs: []ma.Multiaddr{addr}, Source: registry.SourceLive}); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "the app learning both members", func() bool { return a.Knows(rdv) && a.Knows(live) })
	// And the app is discovered by the others: it is a member with the
	// address it announced.
	testhost.Eventually(t, "the app registered", func() bool { return isMember(n.reg, DiscoveryTopic, a.H.ID()) })
	reg, _ := n.reg.Get(DiscoveryTopic, a.H.ID())
	if len(reg.Addrs) != 1 || !reg.Addrs[0].Equal(a.RelayAddr()) || reg.Source != registry.SourceLive {
		t.Errorf("registration %+v, want a live member at %s", reg, a.RelayAddr())
	}
}

func TestJunkAndForgedAnnouncementsNeverReachOtherApps(t *testing.T) {
	n := newNode(t)
	honest := newApp(t, n, DiscoveryTopic)
	attacker := newApp(t, n, DiscoveryTopic)
	victim := newPeerID(t)
	victimKey, _ := victim.ExtractPublicKey()
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/4001/ws")

	// Forged: the victim's key, published by the attacker.
	attacker.Publish(attacker.Topic, victimKey, addr)
	// Junk: not a Peer message at all.
	if err := attacker.Topic.Publish(t.Context(), []byte("\xff\xff\xff not protobuf")); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "both counted", func() bool {
		return n.count(DiscoveryTopic, Forged) == 1 && n.count(DiscoveryTopic, Junk) == 1
	})
	honest.Announce()
	testhost.Eventually(t, "the honest app registered", func() bool { return isMember(n.reg, DiscoveryTopic, honest.H.ID()) })
	if isMember(n.reg, DiscoveryTopic, victim) {
		t.Error("a forged announcement made its victim a member")
	}
	// A third bad message puts the attacker under the graylist: even its
	// valid announcement is then ignored.
	if err := attacker.Topic.Publish(t.Context(), []byte("junk again")); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "the third counted", func() bool { return n.count(DiscoveryTopic, Junk) == 2 })
	attacker.Announce()
	time.Sleep(500 * time.Millisecond)
	if isMember(n.reg, DiscoveryTopic, attacker.H.ID()) {
		t.Error("a graylisted peer's announcement was accepted")
	}
	// Announcements keep flowing to the honest app; nothing the attacker
	// sent reached it.
	honest2 := newApp(t, n, DiscoveryTopic)
	honest2.Announce()
	testhost.Eventually(t, "honest apps finding each other", func() bool { return honest.Knows(honest2.H.ID()) })
	if honest.HeardFrom(attacker.H.ID()) != 0 || honest.Knows(victim) {
		t.Error("the attacker's messages reached an honest app")
	}
}

func TestAnnouncementsAboveOneASecondAreIgnored(t *testing.T) {
	n := newNode(t)
	a := newApp(t, n, DiscoveryTopic)
	for range 5 {
		a.Announce()
	}
	testhost.Eventually(t, "five counted", func() bool {
		return n.count(DiscoveryTopic, Announced)+n.count(DiscoveryTopic, OverRate) == 5
	})
	if got := n.count(DiscoveryTopic, Announced); got != 1 {
		t.Errorf("accepted %v announcements within a second, want 1", got)
	}
	// No penalty: the next one, a second later, counts.
	time.Sleep(1100 * time.Millisecond)
	a.Announce()
	testhost.Eventually(t, "the later one accepted", func() bool { return n.count(DiscoveryTopic, Announced) == 2 })
}

func TestTopicsTheNodeDoesNotServeAreNotRelayed(t *testing.T) {
	n := newNode(t)
	a := newApp(t, n, DiscoveryTopic)
	b := newApp(t, n, DiscoveryTopic)
	ta, tb := a.Join("chat"), b.Join("chat")
	sub, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	got := make(chan *gs.Message, 1)
	go func() {
		if m, err := sub.Next(t.Context()); err == nil {
			got <- m
		}
	}()
	// Wait until a's gossipsub has sent the subscription, then publish.
	time.Sleep(200 * time.Millisecond)
	for range 3 {
		if err := ta.Publish(t.Context(), []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-got:
		t.Fatalf("a message on an unserved topic reached another app: %q", m.Data)
	case <-time.After(time.Second):
	}
	if n.svc.ps.ListPeers("chat") != nil {
		t.Errorf("the node tracks subscribers of an unserved topic: %v", n.svc.ps.ListPeers("chat"))
	}
}

func TestARelayedTopicCarriesMessagesWithinItsLimits(t *testing.T) {
	l := fastLimits()
	l.MaxMessageSize = 1024
	n := newNode(t, WithRelayedTopics("chat"), WithLimits(l))
	a := newApp(t, n, "chat")
	b := newApp(t, n, "chat")
	// The node forwards to its mesh, which b joins at a heartbeat: publish
	// until b has one.
	sent := 0
	testhost.Eventually(t, "b receiving a's message through the node", func() bool {
		if b.HeardFrom(a.H.ID()) > 0 {
			return true
		}
		if err := a.Topic.Publish(t.Context(), []byte(fmt.Sprint("hello ", sent))); err != nil {
			t.Fatal(err)
		}
		sent++
		time.Sleep(100 * time.Millisecond)
		return false
	})
	time.Sleep(200 * time.Millisecond)
	before := b.HeardFrom(a.H.ID())
	if err := a.Topic.Publish(t.Context(), make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "the large one rejected", func() bool { return n.count("chat", TooLarge) == 1 })
	time.Sleep(200 * time.Millisecond)
	if got := b.HeardFrom(a.H.ID()); got != before {
		t.Errorf("b received %d messages from a, want %d (the large one is not relayed)", got, before)
	}
	if isMember(n.reg, "chat", a.H.ID()) {
		t.Error("a relayed topic made its publisher a member")
	}
}

func newPeerID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCloseEndsEveryMembershipAndIsIdempotent(t *testing.T) {
	n := newNode(t)
	a := newApp(t, n, DiscoveryTopic)
	a.Announce()
	testhost.Eventually(t, "the app registered", func() bool { return isMember(n.reg, DiscoveryTopic, a.H.ID()) })
	if err := n.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if isMember(n.reg, DiscoveryTopic, a.H.ID()) {
		t.Error("the app is still a member after Close")
	}
	if err := n.svc.Close(); err != nil {
		t.Fatal(err)
	}
	// The metrics are gone with the service: a new one registers its own.
	again, err := New(n.h, n.reg, WithRegisterer(n.metrics))
	if err != nil {
		t.Fatalf("a second service on the same registerer: %v", err)
	}
	_ = again.Close()
}
