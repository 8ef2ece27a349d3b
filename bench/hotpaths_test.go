package bench

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

// The view table's own benchmarks (protocols/wsstar: BenchmarkLeaveAndRejoin,
// BenchmarkJoinIntoViewsWithRoom, BenchmarkSnapshot, BenchmarkEncodeBatch)
// use its unexported internals; these use only exported APIs, as the tool does.

var benchAddr = ma.StringCast("/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit")

func benchPeers(b *testing.B, n int) []peer.ID {
	b.Helper()
	out := make([]peer.ID, n)
	for i := range out {
		_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if out[i], err = peer.IDFromPublicKey(pub); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

func liveReg(ns string, p peer.ID) registry.Registration {
	return registry.Registration{Namespace: ns, Peer: p, Addrs: []ma.Multiaddr{benchAddr}, Source: registry.SourceLive}
}

// BenchmarkRegistryJoinLeave is one peer joining and leaving a namespace of
// 10,000 members, with one subscriber (as the live protocol subscribes).
func BenchmarkRegistryJoinLeave(b *testing.B) {
	const members = 10_000
	reg := registry.NewMemory()
	b.Cleanup(func() { _ = reg.Close() })
	events := 0
	cancel := reg.Subscribe("ns", func(registry.Event) { events++ })
	b.Cleanup(cancel)
	for _, p := range benchPeers(b, members) {
		if _, err := reg.Register(liveReg("ns", p)); err != nil {
			b.Fatal(err)
		}
	}
	joiners := benchPeers(b, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := joiners[i%len(joiners)]
		if _, err := reg.Register(liveReg("ns", p)); err != nil {
			b.Fatal(err)
		}
		reg.Unregister("ns", p, registry.SourceLive, registry.ReasonUnregistered)
	}
	b.StopTimer()
	if got := reg.Members("ns"); got != members {
		b.Fatalf("members = %d, want %d", got, members)
	}
}

// BenchmarkViewRefillOverStream is a member shown in a client's view leaving
// a namespace of 10,000: the node sends LEFT and refills the view with
// another member. Measured end to end, from the registry change to the
// client decoding both events, over a real stream (flush interval 10 ms,
// the shortest allowed).
func BenchmarkViewRefillOverStream(b *testing.B) {
	const members, viewSize = 10_000, 64
	h := testhost.New(b)
	reg := registry.NewMemory()
	b.Cleanup(func() { _ = reg.Close() })
	l := wsstar.DefaultLimits()
	l.FlushInterval = setting.Duration(10 * time.Millisecond)
	svc, err := wsstar.New(h, reg, wsstar.WithLimits(l))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	for _, p := range benchPeers(b, members) {
		if _, err := reg.Register(liveReg("ns", p)); err != nil {
			b.Fatal(err)
		}
	}
	cl := testhost.NewClient(b)
	testhost.Connect(b, cl, h)
	c, err := wsstar.Dial(b.Context(), cl, h.ID())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if _, err := c.Join(b.Context(), "ns", false, viewSize); err != nil {
		b.Fatal(err)
	}
	shown := wsstar.NewView("ns")
	// next applies messages until pred holds.
	next := func(pred func() bool) {
		for !pred() {
			select {
			case m, ok := <-c.C():
				if !ok {
					b.Fatalf("stream ended: %v", c.Err())
				}
				u, isUpdate := m.(*wsstar.Update)
				if !isUpdate {
					b.Fatalf("view closed: %+v", m)
				}
				shown.Apply(u)
			case <-time.After(10 * time.Second):
				b.Fatal("no update within 10 s")
			}
		}
	}
	next(func() bool { return shown.Len() == viewSize })
	b.ResetTimer()
	for range b.N {
		gone := shown.Peers()[0]
		reg.Unregister("ns", gone, registry.SourceLive, registry.ReasonUnregistered)
		next(func() bool { return !shown.Has(gone) && shown.Len() == viewSize })
		b.StopTimer()
		// Back in (the view is full, so it gets no event): the namespace
		// stays at 10,000 members.
		if _, err := reg.Register(liveReg("ns", gone)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDecodePeersUpdate is a client decoding one Peers message of n
// JOINED events, each with a peer id, a circuit address and a signed record
// of typical size: the per-update cost every simulated peer (and browser) pays.
func BenchmarkDecodePeersUpdate(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			msg := &pb.Peers{Ns: "bench/0"}
			record := make([]byte, 230)
			for _, p := range benchPeers(b, n) {
				msg.Events = append(msg.Events, &pb.PeerEvent{
					Kind: pb.PeerEvent_JOINED, PeerId: []byte(p),
					Addrs: [][]byte{benchAddr.Bytes()}, SignedPeerRecord: record,
				})
			}
			frame, err := proto.Marshal(&pb.ServerMessage{Msg: &pb.ServerMessage_Peers{Peers: msg}})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m, err := wsstar.DecodeServerMessage(frame)
				if err != nil || len(m.GetPeers().GetEvents()) != n {
					b.Fatalf("decode: %v", err)
				}
			}
		})
	}
}
