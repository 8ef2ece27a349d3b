package registry

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestListingsShowNamespacesMembersInJoinOrderAndAPeersMemberships(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemory(t)
		start := time.Now()
		mustRegister(t, m, liveReg(t, "b", 1))
		time.Sleep(time.Second)
		mustRegister(t, m, ttlReg(t, "b", 2, time.Hour))
		mustRegister(t, m, ttlReg(t, "a", 1, time.Minute))
		time.Sleep(time.Second)
		// A refresh keeps the member's since.
		mustRegister(t, m, liveReg(t, "b", 1))

		if got := m.Namespaces(); len(got) != 2 || got[0] != (NamespaceCount{"a", 1}) || got[1] != (NamespaceCount{"b", 2}) {
			t.Fatalf("Namespaces() = %v", got)
		}
		members, total := m.NamespaceMembers("b", 10)
		if total != 2 || len(members) != 2 || members[0].Peer != testPeer(1) || members[1].Peer != testPeer(2) {
			t.Fatalf("NamespaceMembers(b) = %v, %d", members, total)
		}
		if !members[0].Since.Equal(start) || !members[1].Since.Equal(start.Add(time.Second)) {
			t.Fatalf("since %v and %v, want %v and %v", members[0].Since, members[1].Since, start, start.Add(time.Second))
		}
		if first, total := m.NamespaceMembers("b", 1); total != 2 || len(first) != 1 || first[0].Peer != testPeer(1) {
			t.Fatalf("NamespaceMembers(b, 1) = %v, %d", first, total)
		}
		if none, total := m.NamespaceMembers("nope", 10); none != nil || total != 0 {
			t.Fatalf("unknown namespace: %v, %d", none, total)
		}
		got := m.PeerMemberships(testPeer(1))
		if len(got) != 2 || got[0].Namespace != "a" || got[0].Source != SourceRendezvous || got[1].Namespace != "b" || got[1].Source != SourceLive {
			t.Fatalf("PeerMemberships = %v", got)
		}

		// Expired members are gone from every listing.
		time.Sleep(time.Minute)
		if got := m.Namespaces(); len(got) != 1 || got[0].Name != "b" {
			t.Fatalf("after expiry Namespaces() = %v", got)
		}
		if got := m.PeerMemberships(testPeer(1)); len(got) != 1 {
			t.Fatalf("after expiry PeerMemberships = %v", got)
		}
	})
}
