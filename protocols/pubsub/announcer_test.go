package pubsub

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

func joined(p peer.ID, addr string) registry.Event {
	return registry.Event{Kind: registry.Joined, Reg: registry.Registration{Peer: p, Addrs: []ma.Multiaddr{ma.StringCast(addr)}}}
}

func fillRotation(t *testing.T, n int) (*rotation, []peer.ID) {
	t.Helper()
	r := newRotation()
	ids := make([]peer.ID, n)
	for i := range ids {
		ids[i] = newPeerID(t)
		r.apply(joined(ids[i], "/ip4/127.0.0.1/tcp/1/ws"))
	}
	return r, ids
}

func TestConsecutiveAnnouncementsOfALargeTopicAreDistinct(t *testing.T) {
	r, _ := fillRotation(t, 1000)
	now := time.Unix(0, 0)
	seen := make(map[peer.ID]bool)
	for i := range 3 * DefaultAnnouncementsPerInterval {
		m, ok := r.next(now.Add(time.Duration(i)*time.Millisecond), DefaultAnnounceInterval)
		if !ok {
			t.Fatalf("announcement %d: none due", i)
		}
		if seen[m.reg.Peer] {
			t.Fatalf("announcement %d repeats a member within %d", i, 3*DefaultAnnouncementsPerInterval)
		}
		seen[m.reg.Peer] = true
	}
}

func TestAMemberIsAnnouncedAtMostOncePerInterval(t *testing.T) {
	r, ids := fillRotation(t, 3)
	now := time.Unix(0, 0)
	got := make(map[peer.ID]int)
	for range 10 {
		if m, ok := r.next(now, time.Second); ok {
			got[m.reg.Peer]++
		}
		now = now.Add(10 * time.Millisecond)
	}
	for _, p := range ids {
		if got[p] != 1 {
			t.Errorf("member announced %d times within the interval, want 1", got[p])
		}
	}
	now = now.Add(time.Second)
	if _, ok := r.next(now, time.Second); !ok {
		t.Error("no member due an interval later")
	}
}

func TestANewMemberIsAnnouncedNextAndALeftOneNever(t *testing.T) {
	r, ids := fillRotation(t, 5)
	now := time.Unix(0, 0)
	for range 2 {
		r.next(now, time.Hour)
	}
	newcomer := newPeerID(t)
	r.apply(joined(newcomer, "/ip4/127.0.0.1/tcp/2/ws"))
	if m, _ := r.next(now, time.Hour); m.reg.Peer != newcomer {
		t.Errorf("next is %s, want the newcomer", m.reg.Peer)
	}
	r.apply(registry.Event{Kind: registry.Left, Reg: registry.Registration{Peer: ids[4]}})
	for {
		m, ok := r.next(now, time.Hour)
		if !ok {
			break
		}
		if m.reg.Peer == ids[4] {
			t.Fatal("a member that left was announced")
		}
	}
	if r.len() != 5 {
		t.Errorf("len %d, want 5", r.len())
	}
}

func TestAnUpdatedAddressIsAnnouncedAgainSoon(t *testing.T) {
	r, ids := fillRotation(t, 3)
	now := time.Unix(0, 0)
	for range 3 {
		r.next(now, time.Hour)
	}
	r.apply(joined(ids[1], "/ip4/127.0.0.1/tcp/9/ws")) // same peer, new address
	m, ok := r.next(now, time.Hour)
	if !ok || m.reg.Peer != ids[1] || !m.reg.Addrs[0].Equal(ma.StringCast("/ip4/127.0.0.1/tcp/9/ws")) {
		t.Fatalf("next %v %v, want the updated member with its new address", m, ok)
	}
	// The same addresses again (a refresh) changes nothing.
	r.apply(joined(ids[1], "/ip4/127.0.0.1/tcp/9/ws"))
	if _, ok := r.next(now, time.Hour); ok {
		t.Error("a refresh with the same addresses made the member due")
	}
}

func TestDueAllLetsANewcomerHearEveryMemberInOneRound(t *testing.T) {
	r, _ := fillRotation(t, 4)
	now := time.Unix(0, 0)
	for range 4 {
		r.next(now, time.Hour)
	}
	r.dueAll()
	n := 0
	for {
		if _, ok := r.next(now, time.Hour); !ok {
			break
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d due after dueAll, want 4", n)
	}
}

func TestLoadDoesNotReplaceAMemberAnEventBrought(t *testing.T) {
	r := newRotation()
	p := newPeerID(t)
	r.apply(joined(p, "/ip4/127.0.0.1/tcp/2/ws"))
	r.load(joined(p, "/ip4/127.0.0.1/tcp/1/ws"))
	m, _ := r.next(time.Unix(0, 0), time.Hour)
	if !m.reg.Addrs[0].Equal(ma.StringCast("/ip4/127.0.0.1/tcp/2/ws")) {
		t.Errorf("load replaced the newer registration: %v", m.reg.Addrs)
	}
}
