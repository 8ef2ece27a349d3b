package wsstar

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"

	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// A browser-style peer (no listener, reachable only through the node's relay)
// and a Go client in one namespace see each other join and leave, and the
// announced circuit address really reaches the browser-style peer.
func TestBrowserStylePeerThroughRelayAndGoClientSeeEachOther(t *testing.T) {
	nh := testhost.New(t)
	r, err := relay.New(nh, relay.WithInfiniteLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	n := newNodeOn(t, nh, nil)

	browser := testhost.NewClient(t)
	testhost.Connect(t, browser, nh)
	if _, err := client.Reserve(t.Context(), browser, peer.AddrInfo{ID: nh.ID(), Addrs: nh.Addrs()}); err != nil {
		t.Fatalf("reserve: %v", err)
	}
	bc := n.dialFrom(t, browser, 64)
	join(t, bc, "room", true, 0)

	goPeer := testhost.NewClient(t)
	gc := n.dialFrom(t, goPeer, 64)
	_, snap := join(t, gc, "room", true, 0)
	e, ok := findEvent(snap, browser.ID())
	if !ok {
		t.Fatalf("Go client's snapshot lacks the browser-style peer: %+v", snap)
	}
	if e := expectEvent(t, bc, goPeer.ID()); e.Kind != pb.PeerEvent_JOINED {
		t.Fatalf("browser-style peer got %v for the Go client", e.Kind)
	}

	// Dial the announced circuit address.
	if err := goPeer.Connect(t.Context(), peer.AddrInfo{ID: browser.ID(), Addrs: e.Addrs}); err != nil {
		t.Fatalf("dial through the announced circuit address %v: %v", e.Addrs, err)
	}

	if err := gc.Leave("room"); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, bc, goPeer.ID()); e.Kind != pb.PeerEvent_LEFT || e.Reason != pb.LeftReason_LEFT {
		t.Fatalf("browser-style peer got %v %v, want LEFT LEFT", e.Kind, e.Reason)
	}
}
