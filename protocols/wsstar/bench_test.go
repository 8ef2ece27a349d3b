package wsstar

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

// populated returns a table where n members each announce and watch ns with
// a view of maxPeers, as a namespace of browsers would.
func populated(b *testing.B, n, maxPeers int) (*tableFixture, []peer.ID, map[peer.ID]*view) {
	f := newTableFixture(b, 1<<30)
	ids := randomPeers(b, n)
	views := make(map[peer.ID]*view, n)
	for _, p := range ids {
		f.register("ns", p, testAddr)
		views[p] = f.open("ns", p, maxPeers)
	}
	return f, ids, views
}

// BenchmarkLeaveAndRejoin is one member leaving (LEFT and a refill in every
// view showing it) and joining again, with every view flushed: the cost of
// one membership change. It should not grow with the namespace size.
func BenchmarkLeaveAndRejoin(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("members=%d/max_peers=16", n), func(b *testing.B) {
			f, ids, _ := populated(b, n, 16)
			var touched, sent int
			b.ResetTimer()
			for i := range b.N {
				p := ids[i%len(ids)]
				m := f.t.nss["ns"].members[p]
				var vs []*view
				if m != nil {
					for v := range m.views {
						vs = append(vs, v)
					}
				}
				f.unregister("ns", p, registry.ReasonUnregistered)
				f.register("ns", p, testAddr)
				for _, v := range vs {
					frames, _ := f.t.flush(v)
					touched += len(frames)
					for _, fr := range frames {
						sent += len(fr)
					}
				}
			}
			b.ReportMetric(float64(touched)/float64(b.N), "views/op")
			b.ReportMetric(float64(sent)/float64(b.N), "bytes/op")
		})
	}
}

// BenchmarkJoinIntoViewsWithRoom is a member joining a small namespace
// watched by many views with room: it enters all of them.
func BenchmarkJoinIntoViewsWithRoom(b *testing.B) {
	const watchers = 1_000
	f := newTableFixture(b, 1<<30)
	for range watchers {
		f.open("ns", randomPeer(b), 16)
	}
	ids := randomPeers(b, 8)
	b.ResetTimer()
	for i := range b.N {
		p := ids[i%len(ids)]
		f.register("ns", p, testAddr)
		f.unregister("ns", p, registry.ReasonUnregistered)
	}
	b.ReportMetric(watchers, "views/op")
}

// BenchmarkSnapshot opens and closes one view in a large namespace.
func BenchmarkSnapshot(b *testing.B) {
	for _, maxPeers := range []int{16, 256} {
		b.Run(fmt.Sprintf("members=10000/max_peers=%d", maxPeers), func(b *testing.B) {
			f, _, _ := populated(b, 10_000, 16)
			self := randomPeer(b)
			b.ResetTimer()
			for range b.N {
				v := f.open("ns", self, maxPeers)
				_ = f.t.snapshotFrame(v)
				f.close(v)
			}
		})
	}
}

// BenchmarkEncodeBatch encodes a flushed batch of 16 JOINED events from
// cached member bodies.
func BenchmarkEncodeBatch(b *testing.B) {
	bodies := make([][]byte, 16)
	for i := range bodies {
		id := randomPeer(b)
		addrs := []ma.Multiaddr{
			ma.StringCast("/ip4/127.0.0.1/tcp/4001/ws/p2p/" + id.String() + "/p2p-circuit"),
			ma.StringCast("/dns4/node.example.com/tcp/443/tls/ws/p2p/" + id.String() + "/p2p-circuit"),
		}
		bodies[i] = encodeMember(&member{id: id, reg: registry.Registration{Peer: id, Addrs: addrs, Envelope: make([]byte, 300)}}, nil, DefaultMaxPeers)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int
	for range b.N {
		enc := newPeersEncoder("ns", false, 256)
		for _, body := range bodies {
			enc.add(pb.PeerEvent_JOINED, body, 0)
		}
		bytes = len(enc.frame())
	}
	b.ReportMetric(float64(bytes), "bytes/batch")
}

// BenchmarkIdleViewMemory reports what an idle view of 64 holds on to in
// namespaces of a few sizes, after its snapshot and a flushed change: the
// live heap it adds, both sides of the view-member index included.
func BenchmarkIdleViewMemory(b *testing.B) {
	for _, members := range []int{4, 49, 200} {
		b.Run(fmt.Sprintf("members=%d/max_peers=64", members), func(b *testing.B) {
			f := newTableFixture(b, 1<<30)
			for _, p := range randomPeers(b, members) {
				f.register("ns", p, testAddr)
			}
			watchers := randomPeers(b, b.N)
			views := make([]*view, 0, b.N)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for _, p := range watchers {
				views = append(views, f.open("ns", p, 64))
			}
			// One change reaches every view with room; flushing it leaves the
			// views idle again.
			late := randomPeer(b)
			f.register("ns", late, testAddr)
			for _, v := range views {
				f.t.flush(v)
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "live-B/view")
			runtime.KeepAlive(views)
		})
	}
}
