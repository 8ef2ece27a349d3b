package registry

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// FuzzOperations drives the registry with arbitrary sequences of registers,
// unregisters, random reads and clock advances, and checks it against a plain
// model after every step: membership, caps, events, Discover and Stats.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0})
	f.Add([]byte{1, 1, 1, 4, 3, 0, 0, 1, 1, 4, 9, 0, 3, 1, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 0, 1, 0, 1, 1, 0, 2, 1, 0, 3, 1, 0, 0, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 3*300 {
			ops = ops[:3*300]
		}
		synctest.Test(t, func(t *testing.T) { runOps(t, ops) })
	})
}

type modelHold struct {
	live   bool
	ttl    bool
	expiry time.Time
}

func runOps(t *testing.T, ops []byte) {
	lim := DefaultLimits()
	lim.MaxRegistrationsPerPeer, lim.MaxRegistrations, lim.MaxNamespaces = 3, 10, 3
	m := newMemory(t, WithLimits(lim))
	model := map[string]map[peer.ID]*modelHold{}
	seen := map[string]map[peer.ID]bool{} // membership as told by events
	defer m.Subscribe("", func(ev Event) {
		ns := ev.Reg.Namespace
		switch ev.Kind {
		case Joined:
			if seen[ns][ev.Reg.Peer] {
				t.Errorf("Joined for member %s of %q", ev.Reg.Peer, ns)
			}
			if seen[ns] == nil {
				seen[ns] = map[peer.ID]bool{}
			}
			seen[ns][ev.Reg.Peer] = true
		case Updated:
			if !seen[ns][ev.Reg.Peer] {
				t.Errorf("Updated for non-member %s of %q", ev.Reg.Peer, ns)
			}
		case Left:
			if !seen[ns][ev.Reg.Peer] {
				t.Errorf("Left for non-member %s of %q", ev.Reg.Peer, ns)
			}
			delete(seen[ns], ev.Reg.Peer)
		}
	})()
	total := func() (n int, perPeer map[peer.ID]int) {
		perPeer = map[peer.ID]int{}
		for _, members := range model {
			for p := range members {
				n++
				perPeer[p]++
			}
		}
		return n, perPeer
	}
	expireModel := func() {
		now := time.Now()
		for ns, members := range model {
			for p, h := range members {
				if h.ttl && !h.expiry.After(now) {
					h.ttl = false
					if !h.live {
						delete(members, p)
					}
				}
			}
			if len(members) == 0 {
				delete(model, ns)
			}
		}
	}

	for i := 0; i+2 < len(ops); i += 3 {
		op, a, b := ops[i]%5, ops[i+1], ops[i+2]
		ns := fmt.Sprint("ns", a%4)
		pi := int(b % 6)
		p := testPeer(pi)
		switch op {
		case 0, 1: // register live / with a TTL of 1..4 s
			var r Registration
			if op == 0 {
				r = liveReg(t, ns, pi)
			} else {
				r = ttlReg(t, ns, pi, time.Duration(1+a/4%4)*time.Second)
			}
			var want error
			h := model[ns][p]
			if h == nil {
				n, perPeer := total()
				switch {
				case perPeer[p] >= lim.MaxRegistrationsPerPeer:
					want = ErrTooManyForPeer
				case n >= lim.MaxRegistrations:
					want = ErrFull
				case model[ns] == nil && len(model) >= lim.MaxNamespaces:
					want = ErrTooManyNamespaces
				}
			}
			_, err := m.Register(r)
			if !errors.Is(err, want) {
				t.Fatalf("op %d: Register(%s, %d): got %v, want %v", i/3, ns, pi, err, want)
			}
			if err != nil {
				break
			}
			if h == nil {
				h = &modelHold{}
				if model[ns] == nil {
					model[ns] = map[peer.ID]*modelHold{}
				}
				model[ns][p] = h
			}
			if op == 0 {
				h.live = true
			} else {
				h.ttl, h.expiry = true, r.Expiry
			}
		case 2: // unregister
			src := Source(1 + a%2)
			h := model[ns][p]
			want := h != nil && ((src == SourceLive && h.live) || (src == SourceRendezvous && h.ttl))
			if got := m.Unregister(ns, p, src, ReasonUnregistered); got != want {
				t.Fatalf("op %d: Unregister(%s, %d, %v) = %v, want %v", i/3, ns, pi, src, got, want)
			}
			if want {
				if src == SourceLive {
					h.live = false
				} else {
					h.ttl = false
				}
				if !h.live && !h.ttl {
					delete(model[ns], p)
					if len(model[ns]) == 0 {
						delete(model, ns)
					}
				}
			}
		case 3: // advance the clock
			time.Sleep(time.Duration(a%8) * 500 * time.Millisecond)
			synctest.Wait()
			expireModel()
		case 4:
			got := m.Random(ns, int(a%8), func(q peer.ID) bool { return q == p })
			if want := max(0, min(int(a%8), len(model[ns])-btoi(model[ns][p] != nil))); len(got) != want {
				t.Fatalf("op %d: Random returned %d, want %d", i/3, len(got), want)
			}
		}
		checkModel(t, m, model, seen)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkModel(t *testing.T, m *Memory, model map[string]map[peer.ID]*modelHold, seen map[string]map[peer.ID]bool) {
	t.Helper()
	n, peers := 0, map[peer.ID]bool{}
	for ns, members := range model {
		if got := m.Members(ns); got != len(members) {
			t.Fatalf("Members(%s) = %d, want %d", ns, got, len(members))
		}
		for p, h := range members {
			n++
			peers[p] = true
			r, ok := m.Get(ns, p)
			if !ok || (r.Source == SourceLive) != h.live || r.Expiry.IsZero() == h.ttl {
				t.Fatalf("Get(%s, %s) = %v %+v, model %+v", ns, p, ok, r, h)
			}
			if !seen[ns][p] {
				t.Fatalf("member %s of %s never announced", p, ns)
			}
		}
		if len(seen[ns]) != len(members) {
			t.Fatalf("events say %d members of %s, model %d", len(seen[ns]), ns, len(members))
		}
	}
	if s := m.Stats(); s.Registrations != n || s.Namespaces != len(model) || s.Peers != len(peers) {
		t.Fatalf("Stats = %+v, model %d regs %d namespaces %d peers", s, n, len(model), len(peers))
	}
	var all []Registration
	for after := uint64(0); ; {
		regs, next := m.Discover("", after, 3)
		if len(regs) == 0 {
			break
		}
		all = append(all, regs...)
		after = next
	}
	if len(all) != n {
		t.Fatalf("Discover listed %d, model %d", len(all), n)
	}
	for i, r := range all {
		if model[r.Namespace][r.Peer] == nil || (i > 0 && r.Seq <= all[i-1].Seq) {
			t.Fatalf("Discover entry %d (%s in %s, seq %d) wrong", i, r.Peer, r.Namespace, r.Seq)
		}
	}
}
