package wsstar

import (
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

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

// A browser-style peer that listens for WebRTC signalled through the node
// (its record and identify list <node>/p2p-circuit/webrtc) is announced with
// those addresses too, after its plain circuit ones; a peer that does not is
// announced without them.
func TestPeerListeningForWebRTCThroughTheNodeIsAnnouncedWithItsWebRTCAddresses(t *testing.T) {
	nh := testhost.New(t)
	r, err := relay.New(nh, relay.WithInfiniteLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	n := newNodeOn(t, nh, nil)
	circuit := ma.StringCast("/p2p/" + nh.ID().String() + "/p2p-circuit")
	webrtc := circuit.Encapsulate(ma.StringCast("/webrtc"))

	// What a js-libp2p browser listening on /webrtc advertises once it holds
	// a reservation on the node.
	browser := testhost.NewClient(t, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr {
		return []ma.Multiaddr{nh.Addrs()[0].Encapsulate(circuit), nh.Addrs()[0].Encapsulate(webrtc)}
	}))
	plain := testhost.NewClient(t)
	for _, h := range []host.Host{browser, plain} {
		testhost.Connect(t, h, nh)
		if _, err := client.Reserve(t.Context(), h, peer.AddrInfo{ID: nh.ID(), Addrs: nh.Addrs()}); err != nil {
			t.Fatalf("reserve: %v", err)
		}
		join(t, n.dialFrom(t, h, 64), "room", true, 0)
	}

	viewer := testhost.NewClient(t)
	_, snap := join(t, n.dialFrom(t, viewer, 64), "room", false, 0)
	want := []string{nh.Addrs()[0].Encapsulate(circuit).String(), nh.Addrs()[0].Encapsulate(webrtc).String()}
	e, ok := findEvent(snap, browser.ID())
	if !ok {
		t.Fatalf("snapshot lacks the WebRTC peer: %+v", snap)
	}
	if got := addrStrings(e.Addrs); !slices.Equal(got, want) {
		t.Fatalf("WebRTC peer announced with %v, want %v", got, want)
	}
	e, ok = findEvent(snap, plain.ID())
	if !ok {
		t.Fatalf("snapshot lacks the plain peer: %+v", snap)
	}
	if got := addrStrings(e.Addrs); !slices.Equal(got, want[:1]) {
		t.Fatalf("peer without WebRTC announced with %v, want %v", got, want[:1])
	}
}

func addrStrings(addrs []ma.Multiaddr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
