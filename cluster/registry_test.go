package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testnats"
	"github.com/ws-star/rendezvous/registry"
)

const eventWait = 15 * time.Second

func TestMemberRegisteredOnOneNodeIsSeenOnAnotherAndLeavesWithItsReason(t *testing.T) {
	srv := testnats.Start(t)
	a, b := newTestRegistry(t, srv.URL()), newTestRegistry(t, srv.URL())
	onB := record(b, "room")

	live := member(t, "room", registry.SourceLive, 0)
	if _, err := a.Register(live); err != nil {
		t.Fatal(err)
	}
	// Read-your-writes on the node that took it.
	if _, ok := a.Get("room", live.Peer); !ok {
		t.Fatal("the writing node does not see its own write")
	}
	ev := onB.waitEvent(t, eventWait, registry.Joined, live.Peer)
	if len(ev.Reg.Addrs) != 1 || !ev.Reg.Addrs[0].Equal(live.Addrs[0]) || ev.Reg.Source != registry.SourceLive {
		t.Fatalf("other node saw %+v", ev.Reg)
	}

	if !a.Unregister("room", live.Peer, registry.SourceLive, registry.ReasonUnregistered) {
		t.Fatal("Unregister found no hold")
	}
	left := onB.waitEvent(t, eventWait, registry.Left, live.Peer)
	if left.Reason != registry.ReasonUnregistered {
		t.Fatalf("LEFT reason %v, want unregistered", left.Reason)
	}
	if b.Members("room") != 0 {
		t.Fatalf("members on the other node: %d", b.Members("room"))
	}
}

func TestNodeThatStopsHeartbeatingLosesItsLiveAndBoundMembersButNotTTLOnes(t *testing.T) {
	srv := testnats.Start(t)
	a := newTestRegistry(t, srv.URL())
	b := newTestRegistry(t, srv.URL())
	onB := record(b, "room")

	live := member(t, "room", registry.SourceLive, 0)
	bound := member(t, "room", registry.SourceRendezvous, time.Hour)
	bound.NodeBound = true
	ttl := member(t, "room", registry.SourceRendezvous, time.Hour)
	for _, r := range []registry.Registration{live, bound, ttl} {
		if _, err := a.Register(r); err != nil {
			t.Fatal(err)
		}
		onB.waitEvent(t, eventWait, registry.Joined, r.Peer)
	}

	// A crash: the connection goes without a goodbye.
	a.nc.Close()
	for _, r := range []registry.Registration{live, bound} {
		if ev := onB.waitEvent(t, eventWait, registry.Left, r.Peer); ev.Reason != registry.ReasonDisconnected {
			t.Fatalf("LEFT reason %v, want disconnected", ev.Reason)
		}
	}
	if _, ok := b.Get("room", ttl.Peer); !ok {
		t.Fatal("a TTL registration left with the node that took it")
	}
	if got := b.Members("room"); got != 1 {
		t.Fatalf("members after the crash: %d, want 1", got)
	}
}

func TestDepartingNodeMembersLeaveAtOnceNotAfterTheLease(t *testing.T) {
	srv := testnats.Start(t)
	// A lease far longer than the wait: only the goodbye can explain the LEFT.
	long := WithLimits(Limits{Bucket: testBucket, LeaseTTL: setting.Duration(time.Minute)})
	a, b := newTestRegistry(t, srv.URL(), long), newTestRegistry(t, srv.URL(), long)
	onB := record(b, "room")
	live := member(t, "room", registry.SourceLive, 0)
	if _, err := a.Register(live); err != nil {
		t.Fatal(err)
	}
	onB.waitEvent(t, eventWait, registry.Joined, live.Peer)
	a.Depart()
	onB.waitEvent(t, eventWait, registry.Left, live.Peer)
	// Goodbyes after departing are local: no write, and the other node sees nothing new.
	if !a.Unregister("room", live.Peer, registry.SourceLive, registry.ReasonDisconnected) {
		t.Fatal("local unregister after Depart found no hold")
	}
	if n := onB.count(registry.Left, live.Peer); n != 1 {
		t.Fatalf("LEFT delivered %d times", n)
	}
}

func TestTTLRegistrationSurvivesARestartOfEveryNodeAndTheEngine(t *testing.T) {
	srv := testnats.Start(t)
	a := newTestRegistry(t, srv.URL())
	reg := member(t, "room", registry.SourceRendezvous, time.Hour)
	stored, err := a.Register(reg)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Close()
	srv.Stop()
	srv.Restart()

	c := newTestRegistry(t, srv.URL())
	got, ok := c.Get("room", reg.Peer)
	if !ok {
		t.Fatal("registration lost across the restart")
	}
	if got.Seq != stored.Seq || !got.Expiry.Equal(stored.Expiry) || got.Expiry.Before(reg.Expiry) {
		t.Fatalf("after restart Seq %d expiry %v, before %d %v", got.Seq, got.Expiry, stored.Seq, stored.Expiry)
	}
}

func TestDiscoverCookieFromOneNodePagesOnAnother(t *testing.T) {
	srv := testnats.Start(t)
	a, b := newTestRegistry(t, srv.URL()), newTestRegistry(t, srv.URL())
	var last registry.Registration
	for range 5 {
		var err error
		if last, err = a.Register(member(t, "room", registry.SourceRendezvous, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, eventWait, "all five on the other node", func() bool {
		_, ok := b.Get("room", last.Peer)
		return ok
	})
	first, cursor := a.Discover("room", 0, 2)
	if len(first) != 2 {
		t.Fatalf("first page %d", len(first))
	}
	rest, _ := b.Discover("room", cursor, 10)
	if len(rest) != 3 {
		t.Fatalf("the other node's page after the cookie has %d registrations, want 3", len(rest))
	}
	for _, r := range rest {
		for _, f := range first {
			if r.Peer == f.Peer {
				t.Fatalf("peer %s on both pages", r.Peer)
			}
		}
	}
}

func TestEngineDownLocalJoinsStillServedThenPublishedWithoutDuplicates(t *testing.T) {
	srv := testnats.Start(t)
	a, b := newTestRegistry(t, srv.URL()), newTestRegistry(t, srv.URL())
	onA, onB := record(a, "room"), record(b, "room")

	srv.Stop()
	waitFor(t, eventWait, "degraded", a.Degraded)
	x := member(t, "room", registry.SourceLive, 0)
	if _, err := a.Register(x); err != nil {
		t.Fatalf("a local join failed while the engine is down: %v", err)
	}
	onA.waitEvent(t, eventWait, registry.Joined, x.Peer)

	srv.Restart()
	waitFor(t, 30*time.Second, "in sync again", func() bool { return !a.Degraded() })
	onB.waitEvent(t, 30*time.Second, registry.Joined, x.Peer)
	waitFor(t, eventWait, "no deferred writes", func() bool { return a.pendingCount() == 0 })
	if n := onA.count(registry.Joined, x.Peer); n != 1 {
		t.Fatalf("JOINED delivered %d times on the node that took it", n)
	}
	if n := onA.count(registry.Left, x.Peer); n != 0 {
		t.Fatalf("LEFT delivered %d times after recovery", n)
	}
}

func TestPerPeerCapHoldsAcrossNodes(t *testing.T) {
	srv := testnats.Start(t)
	lim := withRegistryLimits(func(l *registry.Limits) { l.MaxRegistrationsPerPeer = 2 })
	a, b := newTestRegistry(t, srv.URL(), lim), newTestRegistry(t, srv.URL(), lim)
	r := member(t, "one", registry.SourceLive, 0)
	if _, err := a.Register(r); err != nil {
		t.Fatal(err)
	}
	r.Namespace = "two"
	if _, err := b.Register(r); err != nil {
		t.Fatal(err)
	}
	waitFor(t, eventWait, "both memberships on the first node", func() bool { _, ok := a.Get("two", r.Peer); return ok })
	r.Namespace = "three"
	if _, err := a.Register(r); !errors.Is(err, registry.ErrTooManyForPeer) {
		t.Fatalf("third namespace over two nodes: err %v, want ErrTooManyForPeer", err)
	}
}
