package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// pageAll pages through Discover with the given page size and returns every
// registration seen and the final cursor.
func pageAll(t *testing.T, m *Memory, ns string, after uint64, size int) ([]Registration, uint64) {
	t.Helper()
	var all []Registration
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("Discover never ran dry")
		}
		regs, next := m.Discover(ns, after, size)
		if len(regs) > size {
			t.Fatalf("page of %d with limit %d", len(regs), size)
		}
		if next < after {
			t.Fatalf("cursor went back from %d to %d", after, next)
		}
		for _, r := range regs {
			if r.Seq <= after || r.Seq > next {
				t.Fatalf("Seq %d outside (%d, %d]", r.Seq, after, next)
			}
		}
		all = append(all, regs...)
		if len(regs) == 0 {
			return all, next
		}
		after = next
	}
}

func checkSeqOrder(t *testing.T, regs []Registration) {
	t.Helper()
	for i := 1; i < len(regs); i++ {
		if regs[i].Seq <= regs[i-1].Seq {
			t.Fatalf("Seq not increasing at %d: %d then %d", i, regs[i-1].Seq, regs[i].Seq)
		}
	}
}

func TestSeqIncreasesAcrossNamespacesAndRefreshes(t *testing.T) {
	m := newMemory(t)
	var last uint64
	for i := range 100 {
		r := mustRegister(t, m, liveReg(t, fmt.Sprint("ns", i%3), i%7))
		if r.Seq <= last {
			t.Fatalf("registration %d got Seq %d after %d", i, r.Seq, last)
		}
		last = r.Seq
	}
}

func TestDiscoverPagesOver2500Registrations(t *testing.T) {
	const n = 2500
	m := newMemory(t)
	for i := range n {
		mustRegister(t, m, liveReg(t, "big", i))
		if i%10 == 0 { // noise in other namespaces, interleaved in Seq
			mustRegister(t, m, liveReg(t, "small", i))
		}
	}
	for _, size := range []int{1, 7, 100, 1000, 5000} {
		t.Run(fmt.Sprint("limit ", size), func(t *testing.T) {
			regs, _ := pageAll(t, m, "big", 0, size)
			if len(regs) != n {
				t.Fatalf("paged %d registrations, want %d", len(regs), n)
			}
			checkSeqOrder(t, regs)
			seen := make(map[peer.ID]bool, n)
			for _, r := range regs {
				if r.Namespace != "big" || seen[r.Peer] {
					t.Fatalf("unexpected %s in %q (dup=%v)", r.Peer, r.Namespace, seen[r.Peer])
				}
				seen[r.Peer] = true
			}
		})
	}
	all, _ := pageAll(t, m, "", 0, 333)
	if len(all) != n+n/10 {
		t.Fatalf("all-namespace paging saw %d, want %d", len(all), n+n/10)
	}
	checkSeqOrder(t, all)
}

func TestDiscoverCursorReturnsOnlyAddedOrRefreshedSince(t *testing.T) {
	m := newMemory(t)
	for i := range 2500 {
		mustRegister(t, m, ttlReg(t, "ns", i, time.Hour))
	}
	_, cursor := pageAll(t, m, "ns", 0, 100)
	if regs, next := m.Discover("ns", cursor, 100); len(regs) != 0 || next != cursor {
		t.Fatalf("nothing changed, yet Discover returned %d and moved the cursor to %d", len(regs), next)
	}

	// Refresh every third member (many tombstones, forcing compactions),
	// remove some, add a few.
	want := map[peer.ID]bool{}
	for i := 0; i < 2500; i += 3 {
		mustRegister(t, m, ttlReg(t, "ns", i, time.Hour))
		want[testPeer(i)] = true
	}
	for i := 1; i < 2500; i += 3 {
		m.Unregister("ns", testPeer(i), SourceRendezvous, ReasonUnregistered)
	}
	for i := 3000; i < 3010; i++ {
		mustRegister(t, m, ttlReg(t, "ns", i, time.Hour))
		want[testPeer(i)] = true
	}
	regs, _ := pageAll(t, m, "ns", cursor, 64)
	if len(regs) != len(want) {
		t.Fatalf("got %d since the cursor, want %d", len(regs), len(want))
	}
	for _, r := range regs {
		if !want[r.Peer] {
			t.Fatalf("unchanged or removed peer %s returned", r.Peer)
		}
	}
	checkSeqOrder(t, regs)

	// The full listing still has every member exactly once.
	all, _ := pageAll(t, m, "ns", 0, 100)
	if len(all) != m.Members("ns") {
		t.Fatalf("full listing %d, members %d", len(all), m.Members("ns"))
	}
}

func TestDiscoverZeroLimitAndUnknownNamespace(t *testing.T) {
	m := newMemory(t)
	mustRegister(t, m, liveReg(t, "ns", 1))
	if regs, next := m.Discover("ns", 0, 0); regs != nil || next != 0 {
		t.Fatalf("limit 0: %d regs, next %d", len(regs), next)
	}
	if regs, next := m.Discover("missing", 42, 10); len(regs) != 0 || next != 42 {
		t.Fatalf("unknown ns: %d regs, next %d", len(regs), next)
	}
}

func TestSeqLogCompactionBoundsTombstones(t *testing.T) {
	m := newMemory(t)
	for i := range 100 {
		mustRegister(t, m, liveReg(t, "ns", i))
	}
	for range 50 {
		for i := range 100 {
			mustRegister(t, m, liveReg(t, "ns", i))
		}
	}
	m.mu.Lock()
	nsItems, allItems := len(m.namespaces["ns"].log.items), len(m.all.items)
	m.mu.Unlock()
	// 5,100 registrations of 100 members: the logs hold at most about twice
	// the live set.
	if nsItems > 2*100+compactMin+1 || allItems > 2*100+compactMin+1 {
		t.Fatalf("logs hold %d and %d items for 100 members", nsItems, allItems)
	}
}
