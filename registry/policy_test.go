package registry

import (
	"errors"
	"testing"
)

func TestPolicyRefusesNamespacesOutsideTheAllowedPrefixes(t *testing.T) {
	m := newMemory(t, WithPolicy(Policy{AllowPrefixes: []string{"app/", "chat-"}}))
	for _, ns := range []string{"app/room", "chat-1"} {
		mustRegister(t, m, liveReg(t, ns, 1))
	}
	for _, ns := range []string{"other", "ap", "App/room"} {
		if _, err := m.Register(liveReg(t, ns, 1)); !errors.Is(err, ErrNamespaceNotAllowed) {
			t.Errorf("Register(%q) = %v, want ErrNamespaceNotAllowed", ns, err)
		}
		if err := m.Admit(liveReg(t, ns, 1)); !errors.Is(err, ErrNamespaceNotAllowed) {
			t.Errorf("Admit(%q) = %v, want ErrNamespaceNotAllowed (a cluster node checks with Admit)", ns, err)
		}
	}
}

func TestPolicyCapsMembersPerNamespaceWithTheLongestOverride(t *testing.T) {
	m := newMemory(t, WithPolicy(Policy{
		MaxMembers: 2,
		Overrides: []Override{
			{Prefix: "big/", MaxMembers: 4},
			{Prefix: "big/small/", MaxMembers: 1},
			{Prefix: "view/", MaxViewSize: 8}, // keeps the general member cap
		},
	}))
	fill := func(ns string, n int) {
		t.Helper()
		for i := 1; i <= n; i++ {
			mustRegister(t, m, liveReg(t, ns, i))
		}
		if _, err := m.Register(liveReg(t, ns, n+1)); !errors.Is(err, ErrNamespaceFull) {
			t.Errorf("member %d of %q: %v, want ErrNamespaceFull", n+1, ns, err)
		}
		// A refresh of a member is not a new member.
		mustRegister(t, m, liveReg(t, ns, 1))
	}
	fill("room", 2)
	fill("big/room", 4)
	fill("big/small/room", 1)
	fill("view/room", 2)
	// A member that leaves makes room.
	m.Unregister("room", testPeer(1), SourceLive, ReasonUnregistered)
	mustRegister(t, m, liveReg(t, "room", 3))
}

func TestPolicyViewSizeOverrides(t *testing.T) {
	p := Policy{Overrides: []Override{{Prefix: "a/", MaxViewSize: 16}, {Prefix: "a/b/", MaxMembers: 3}}}
	for ns, want := range map[string]int{"x": 256, "a/x": 16, "a/b/x": 256} {
		if got := p.MaxViewSizeOf(ns, 256); got != want {
			t.Errorf("MaxViewSizeOf(%q) = %d, want %d", ns, got, want)
		}
	}
	if (Policy{}).MaxMembersOf("x") != 0 || !(Policy{}).Allowed("anything") {
		t.Error("the zero Policy must allow every namespace with no cap")
	}
}
