package registry

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestRandomIsRoughlyUniformWithoutDuplicates(t *testing.T) {
	const members, n, rounds = 20, 5, 4000
	m := newMemory(t)
	for i := range members {
		mustRegister(t, m, liveReg(t, "ns", i))
	}
	counts := map[peer.ID]int{}
	for range rounds {
		got := m.Random("ns", n, nil)
		if len(got) != n {
			t.Fatalf("Random returned %d, want %d", len(got), n)
		}
		seen := map[peer.ID]bool{}
		for _, r := range got {
			if seen[r.Peer] {
				t.Fatalf("duplicate %s in one sample", r.Peer)
			}
			seen[r.Peer] = true
			counts[r.Peer]++
		}
	}
	// Expected 1000 picks each, standard deviation about 27: the bounds are
	// over 10 deviations wide, so only a broken sampler can miss them.
	if len(counts) != members {
		t.Fatalf("only %d of %d members ever sampled", len(counts), members)
	}
	for p, c := range counts {
		if c < 700 || c > 1300 {
			t.Fatalf("member %s picked %d times, expected about 1000", p, c)
		}
	}
}

func TestRandomSkipsAndCapsAtMembership(t *testing.T) {
	m := newMemory(t)
	skip := map[peer.ID]bool{}
	for i := range 10 {
		mustRegister(t, m, liveReg(t, "ns", i))
		if i%2 == 0 {
			skip[testPeer(i)] = true
		}
	}
	for range 50 {
		got := m.Random("ns", 100, func(p peer.ID) bool { return skip[p] })
		if len(got) != 5 {
			t.Fatalf("got %d, want the 5 not skipped", len(got))
		}
		for _, r := range got {
			if skip[r.Peer] {
				t.Fatalf("skipped peer %s returned", r.Peer)
			}
		}
	}
	if got := m.Random("ns", 0, nil); len(got) != 0 {
		t.Fatalf("n=0 returned %d", len(got))
	}
	if got := m.Random("missing", 3, nil); len(got) != 0 {
		t.Fatalf("unknown namespace returned %d", len(got))
	}
}

func TestRandomStaysConsistentWithRemovals(t *testing.T) {
	// Random reorders the member slice; removal must still find members by
	// their index afterwards.
	m := newMemory(t)
	for i := range 50 {
		mustRegister(t, m, liveReg(t, "ns", i))
	}
	for i := range 50 {
		m.Random("ns", 10, nil)
		if !m.Unregister("ns", testPeer(i), SourceLive, ReasonUnregistered) {
			t.Fatalf("member %d lost", i)
		}
		for _, r := range m.Random("ns", 50, nil) {
			if _, ok := m.Get("ns", r.Peer); !ok {
				t.Fatalf("Random returned departed %s", r.Peer)
			}
		}
	}
	if m.Members("ns") != 0 {
		t.Fatal("members remain")
	}
}
