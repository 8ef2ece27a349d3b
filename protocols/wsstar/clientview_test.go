package wsstar

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

func viewPeer(t *testing.T) peer.ID {
	t.Helper()
	id, err := peer.IDFromPrivateKey(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func kinds(changes []PeerEvent) map[peer.ID]pb.PeerEvent_Kind {
	out := make(map[peer.ID]pb.PeerEvent_Kind, len(changes))
	for _, e := range changes {
		out[e.Peer] = e.Kind
	}
	return out
}

func TestViewAddsJoinedAndUpdatedMembersRemovesLeftOnesAndReportsOnlyChanges(t *testing.T) {
	a, b := viewPeer(t), viewPeer(t)
	addr1, addr2 := ma.StringCast("/ip4/127.0.0.1/tcp/1/ws"), ma.StringCast("/ip4/127.0.0.1/tcp/2/ws")
	v := NewView("room")
	got := v.Apply(&Update{NS: "room", Events: []PeerEvent{
		{Kind: pb.PeerEvent_JOINED, Peer: a, Addrs: []ma.Multiaddr{addr1}},
		{Kind: pb.PeerEvent_UPDATED, Peer: b}, // an update of a member not shown shows it
	}})
	if k := kinds(got); len(k) != 2 || k[a] != pb.PeerEvent_JOINED || k[b] != pb.PeerEvent_JOINED {
		t.Fatalf("changes %v, want a and b joined", got)
	}
	if v.Len() != 2 || !v.Has(a) || !v.Has(b) {
		t.Fatalf("view shows %v, want a and b", v.Peers())
	}
	// The same addresses again change nothing; new ones are an update.
	if got := v.Apply(&Update{NS: "room", Events: []PeerEvent{{Kind: pb.PeerEvent_JOINED, Peer: a, Addrs: []ma.Multiaddr{addr1}}}}); len(got) != 0 {
		t.Errorf("a repeated JOINED changed %v", got)
	}
	got = v.Apply(&Update{NS: "room", Events: []PeerEvent{{Kind: pb.PeerEvent_UPDATED, Peer: a, Addrs: []ma.Multiaddr{addr2}}}})
	if k := kinds(got); k[a] != pb.PeerEvent_UPDATED {
		t.Errorf("changes %v, want a updated", got)
	}
	if s, ok := v.Get(a); !ok || len(s.Addrs) != 1 || !s.Addrs[0].Equal(addr2) {
		t.Errorf("a shown as %+v, want its new address", s)
	}
	got = v.Apply(&Update{NS: "room", Events: []PeerEvent{
		{Kind: pb.PeerEvent_LEFT, Peer: b, Reason: pb.LeftReason_DISCONNECTED},
		{Kind: pb.PeerEvent_LEFT, Peer: viewPeer(t)}, // never shown: no change
	}})
	if len(got) != 1 || got[0].Peer != b || got[0].Reason != pb.LeftReason_DISCONNECTED {
		t.Errorf("changes %v, want b's LEFT with its reason", got)
	}
	if v.Has(b) || v.Len() != 1 {
		t.Errorf("view shows %v after b left, want a only", v.Peers())
	}
}

func TestViewSnapshotReplacesWhatWasShownAndReportsTheDroppedAsLeft(t *testing.T) {
	kept, dropped, fresh := viewPeer(t), viewPeer(t), viewPeer(t)
	v := NewView("")
	v.Apply(&Update{NS: "room", Snapshot: true, Events: []PeerEvent{
		{Kind: pb.PeerEvent_JOINED, Peer: kept}, {Kind: pb.PeerEvent_JOINED, Peer: dropped},
	}})
	got := kinds(v.Apply(&Update{NS: "room", Snapshot: true, Events: []PeerEvent{
		{Kind: pb.PeerEvent_JOINED, Peer: kept}, {Kind: pb.PeerEvent_JOINED, Peer: fresh},
	}}))
	if len(got) != 2 || got[fresh] != pb.PeerEvent_JOINED || got[dropped] != pb.PeerEvent_LEFT {
		t.Fatalf("changes %v, want fresh joined and dropped left", got)
	}
	if v.Len() != 2 || !v.Has(kept) || !v.Has(fresh) || v.Has(dropped) {
		t.Errorf("view shows %v, want kept and fresh", v.Peers())
	}
}

func TestViewIgnoresUpdatesOfAnotherNamespace(t *testing.T) {
	v := NewView("room")
	if got := v.Apply(&Update{NS: "hall", Events: []PeerEvent{{Kind: pb.PeerEvent_JOINED, Peer: viewPeer(t)}}}); got != nil || v.Len() != 0 {
		t.Errorf("an update of another namespace changed %v", got)
	}
}

func TestViewFollowsAClientThroughAJoinAndADisconnect(t *testing.T) {
	n := newNode(t, nil)
	watcher, _ := n.dial(t)
	_, snap := join(t, watcher, "room", false, 0)
	v := NewView("room")
	v.Apply(snap)
	other, oh := n.dial(t)
	join(t, other, "room", true, 0)
	e := expectEvent(t, watcher, oh.ID())
	v.Apply(&Update{NS: "room", Events: []PeerEvent{e}})
	if !v.Has(oh.ID()) || v.Len() != 1 {
		t.Fatalf("view shows %v after the join, want the joiner", v.Peers())
	}
	_ = oh.Close()
	e = expectEvent(t, watcher, oh.ID())
	if got := v.Apply(&Update{NS: "room", Events: []PeerEvent{e}}); len(got) != 1 || got[0].Kind != pb.PeerEvent_LEFT {
		t.Fatalf("changes %v after the disconnect, want the LEFT", got)
	}
	if v.Len() != 0 {
		t.Errorf("view shows %v after the disconnect", v.Peers())
	}
}
