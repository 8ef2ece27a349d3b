package registry

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// fill registers n live members of ns (peers 0..n-1).
func fill(b *testing.B, m *Memory, ns string, n int) {
	b.Helper()
	for i := range n {
		mustRegister(b, m, liveReg(b, ns, i))
	}
}

// BenchmarkRegisterUnregister: a peer joins and leaves a namespace that
// already has 10,000 members.
func BenchmarkRegisterUnregister(b *testing.B) {
	m := newMemory(b)
	fill(b, m, "ns", 10_000)
	regs := make([]Registration, 1024)
	for i := range regs {
		regs[i] = liveReg(b, "ns", 100_000+i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := regs[i%len(regs)]
		if _, err := m.Register(r); err != nil {
			b.Fatal(err)
		}
		m.Unregister("ns", r.Peer, SourceLive, ReasonUnregistered)
	}
}

// BenchmarkRefreshTTL: a member of a 10,000-member namespace renews its
// rendezvous TTL (new Seq, heap fix, no event).
func BenchmarkRefreshTTL(b *testing.B) {
	m := newMemory(b)
	regs := make([]Registration, 10_000)
	for i := range regs {
		regs[i] = ttlReg(b, "ns", i, time.Hour)
		mustRegister(b, m, regs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := regs[i%len(regs)]
		r.Expiry = time.Now().Add(2 * time.Hour)
		if _, err := m.Register(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiscoverPage: one page of 100 from a 100,000-member namespace, at a
// random cursor.
func BenchmarkDiscoverPage(b *testing.B) {
	m := newMemory(b, withLimits(func(l *Limits) { l.MaxRegistrationsPerPeer, l.MaxRegistrations = 1, 200_000 }))
	fill(b, m, "ns", 100_000)
	all, _ := m.Discover("ns", 0, 100_000)
	cursors := make([]uint64, 1024)
	for i := range cursors {
		cursors[i] = all[rand.IntN(len(all)-100)].Seq
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if regs, _ := m.Discover("ns", cursors[i%len(cursors)], 100); len(regs) != 100 {
			b.Fatalf("page of %d", len(regs))
		}
	}
}

// BenchmarkRandom: 16 random members of a 10,000-member namespace.
func BenchmarkRandom(b *testing.B) {
	m := newMemory(b)
	fill(b, m, "ns", 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got := m.Random("ns", 16, nil); len(got) != 16 {
			b.Fatalf("got %d", len(got))
		}
	}
}

// BenchmarkMemoryPerRegistration reports the heap retained per registration
// with 100,000 members (everything: entry, indexes, peer ID, addresses and
// record), for a bare registration (one /ws address, no record) and a typical
// browser one (a direct and a circuit address, a 350-byte signed record).
//
//	go test -run '^$' -bench MemoryPerRegistration -benchtime 1x ./registry
func BenchmarkMemoryPerRegistration(b *testing.B) {
	const n = 100_000
	relay := testPeer(-1)
	for _, c := range []struct {
		name   string
		signed bool
	}{{"bare", false}, {"signed", true}} {
		b.Run(c.name, func(b *testing.B) {
			var perReg float64
			for range b.N {
				perReg = retainedPerRegistration(b, n, func(i int) Registration {
					r := liveReg(b, fmt.Sprint("ns", i%100), i)
					if c.signed {
						circuit, err := ma.NewMultiaddr(fmt.Sprintf("/dns4/relay.example.com/tcp/443/tls/ws/p2p/%s/p2p-circuit", relay))
						if err != nil {
							b.Fatal(err)
						}
						r.Addrs = append(r.Addrs, circuit)
						r.Envelope = make([]byte, 350)
						r.Format = FormatPeerRecord
					}
					return r
				})
			}
			b.ReportMetric(perReg, "bytes/reg")
		})
	}
}

func retainedPerRegistration(b *testing.B, n int, mk func(int) Registration) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := NewMemory(withLimits(func(l *Limits) { l.MaxRegistrations = n }))
	for i := range n {
		if _, err := m.Register(mk(i)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if m.Stats().Registrations != n {
		b.Fatal("registrations lost")
	}
	runtime.KeepAlive(m)
	_ = m.Close()
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
