package bench

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/test"

	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

func TestAuditCountsMembersShownAfterLeavingAndLiveMembersNeverShown(t *testing.T) {
	s := newSwarm(peer.AddrInfo{})
	ids := make([]peer.ID, 5)
	for i := range ids {
		ids[i] = test.RandPeerIDFatal(t)
	}
	view := func(id peer.ID, max int, shown ...peer.ID) *livePeer {
		w := &livePeer{id: id, ns: "room", max: max, view: wsstar.NewView("room")}
		u := &wsstar.Update{NS: "room", Snapshot: true}
		for _, p := range shown {
			u.Events = append(u.Events, wsstar.PeerEvent{Kind: pb.PeerEvent_JOINED, Peer: p})
		}
		w.view.Apply(u)
		return w
	}
	gone := ids[4] // left the namespace; still shown by a
	a := view(ids[0], 10, ids[1], ids[2], gone)
	b := view(ids[1], 10, ids[0])         // misses ids[2]
	c := view(ids[2], 2, ids[0], ids[1])  // full: nothing missing
	d := view(ids[3], 10, ids[0], ids[1]) // closed by the node: not counted
	d.ended = true
	s.byNS["room"] = map[*livePeer]struct{}{a: {}, b: {}, c: {}, d: {}}

	got := s.audit()
	// a misses ids[3]; b misses ids[2] and ids[3]; c is full.
	want := audit{stale: 1, missing: 3, views: 3, closed: 1}
	if got != want {
		t.Fatalf("audit = %+v, want %+v", got, want)
	}
	if got.lost() != 4 {
		t.Fatalf("lost = %d, want 4", got.lost())
	}
}
