package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// testPeer returns a distinct, well-formed peer ID for i (a sha2-256
// multihash, the shape of RSA-key peer IDs).
func testPeer(i int) peer.ID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err)
	}
	return peer.ID(h)
}

func testAddr(tb testing.TB, i int) ma.Multiaddr {
	tb.Helper()
	a, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/10.%d.%d.%d/tcp/4001/ws", (i>>16)&255, (i>>8)&255, i&255))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func liveReg(tb testing.TB, ns string, i int) Registration {
	tb.Helper()
	return Registration{Namespace: ns, Peer: testPeer(i), Addrs: []ma.Multiaddr{testAddr(tb, i)}, Source: SourceLive}
}

func ttlReg(tb testing.TB, ns string, i int, ttl time.Duration) Registration {
	tb.Helper()
	return Registration{
		Namespace: ns, Peer: testPeer(i), Addrs: []ma.Multiaddr{testAddr(tb, i)},
		Source: SourceRendezvous, Expiry: time.Now().Add(ttl),
	}
}

func mustRegister(tb testing.TB, m *Memory, r Registration) Registration {
	tb.Helper()
	got, err := m.Register(r)
	if err != nil {
		tb.Fatalf("Register(%s, peer %d addrs): %v", r.Namespace, len(r.Addrs), err)
	}
	return got
}

// withLimits is WithLimits of DefaultLimits changed by set.
func withLimits(set func(*Limits)) Option {
	l := DefaultLimits()
	set(&l)
	return WithLimits(l)
}

func newMemory(tb testing.TB, opts ...Option) *Memory {
	tb.Helper()
	m := NewMemory(opts...)
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// recorder collects events; safe for use from any goroutine.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

type wantEvent struct {
	kind   EventKind
	reason LeftReason
	peer   peer.ID
}

func checkEvents(tb testing.TB, got []Event, want ...wantEvent) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events %v, want %d %v", len(got), summarize(got), len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.Reason != w.reason || g.Reg.Peer != w.peer {
			tb.Fatalf("event %d: got %v/%v/%s, want %v/%v/%s", i, g.Kind, g.Reason, g.Reg.Peer, w.kind, w.reason, w.peer)
		}
	}
}

func summarize(evs []Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, fmt.Sprintf("%v/%v/%s", e.Kind, e.Reason, e.Reg.Peer))
	}
	return s
}
