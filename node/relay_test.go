package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/testhost"
)

func TestReservationCarriesDialableLoopbackAddresses(t *testing.T) {
	n := startNode(t, testConfig(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := reserve(t, ctx, testhost.NewClient(t), n)
	if len(r.Addrs) == 0 {
		t.Fatal("reservation lists no node addresses: a loopback node must hand out its listen addresses")
	}
	want := n.Addrs()
	for _, a := range r.Addrs {
		if !slices.ContainsFunc(want, a.Equal) {
			t.Errorf("reservation address %s is not one of the node's addresses %v", a, want)
		}
	}
}

func TestRelayACLAllowsOnlyListedPeers(t *testing.T) {
	allowed := testhost.NewClient(t)
	other := testhost.NewClient(t)
	c := testConfig(t)
	c.Relay.ACL.AllowPeers = []string{allowed.ID().String()}
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	reserve(t, ctx, allowed, n)
	if err := other.Connect(ctx, nodeInfo(n)); err != nil {
		t.Fatal(err)
	}
	if _, err := reserveErr(ctx, other, n); err == nil {
		t.Fatal("a peer outside the allow list got a reservation")
	}
}

func TestRelayACLAllowsListedSubnets(t *testing.T) {
	c := testConfig(t)
	c.Relay.ACL.AllowSubnets = []string{"127.0.0.0/8"}
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	reserve(t, ctx, testhost.NewClient(t), n)

	c2 := testConfig(t)
	c2.Relay.ACL.AllowSubnets = []string{"10.0.0.0/8"}
	n2 := startNode(t, c2)
	h := testhost.NewClient(t)
	if err := h.Connect(ctx, nodeInfo(n2)); err != nil {
		t.Fatal(err)
	}
	if _, err := reserveErr(ctx, h, n2); err == nil {
		t.Fatal("a loopback peer got a reservation although only 10.0.0.0/8 may reserve")
	}
}
