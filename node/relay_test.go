package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/node/relay"
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

// reservedState reports whether the node protects p under the reservation
// tag and what rendezvous_relay_reservations reads.
func reservedState(t *testing.T, n *Node, p peer.ID) (bool, float64) {
	t.Helper()
	v, ok := metric(t, n, "rendezvous_relay_reservations", nil)
	if !ok {
		t.Fatal("no rendezvous_relay_reservations")
	}
	return n.Host.ConnManager().IsProtected(p, relay.ProtectTag), v
}

func TestReservationRefusedByTheRelaysLimitsIsNeitherProtectedNorCounted(t *testing.T) {
	for name, set := range map[string]func(*config.Relay){
		"per-ip": func(r *config.Relay) { r.MaxReservationsPerIP = 1 },
		"total":  func(r *config.Relay) { r.MaxReservations = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig(t)
			c.Capacity.Peers = 100
			set(&c.Relay)
			n := startNode(t, c)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()

			granted := testhost.NewClient(t)
			reserve(t, ctx, granted, n)
			if prot, v := reservedState(t, n, granted.ID()); !prot || v != 1 {
				t.Fatalf("granted peer: protected %v, gauge %v; want true, 1", prot, v)
			}

			refused := testhost.NewClient(t)
			if err := refused.Connect(ctx, nodeInfo(n)); err != nil {
				t.Fatal(err)
			}
			if _, err := reserveErr(ctx, refused, n); err == nil {
				t.Fatal("second reservation granted over the limit")
			}
			if prot, v := reservedState(t, n, refused.ID()); prot || v != 1 {
				t.Fatalf("refused peer: protected %v, gauge %v; want false, 1", prot, v)
			}
		})
	}
}

func TestDisconnectEndsAReservation(t *testing.T) {
	n := startNode(t, testConfig(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h := testhost.NewClient(t)
	reserve(t, ctx, h, n)
	if prot, v := reservedState(t, n, h.ID()); !prot || v != 1 {
		t.Fatalf("after reserving: protected %v, gauge %v; want true, 1", prot, v)
	}
	if err := h.Network().ClosePeer(n.Host.ID()); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "the reservation to end with the connection", func() bool {
		prot, v := reservedState(t, n, h.ID())
		return !prot && v == 0
	})
}
