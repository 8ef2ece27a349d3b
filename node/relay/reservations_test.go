package relay

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/internal/testhost"
)

// relayOn runs the node's relay service on a plain test host, which allows a
// reservation TTL below the configuration's minimum.
func relayOn(t *testing.T, ttl time.Duration) (host.Host, *Reservations, *circuit.Relay) {
	t.Helper()
	h := testhost.New(t)
	c := config.Default().Relay
	c.ReservationTTL = config.Duration(ttl)
	c.MaxReservations = 16
	rs := NewReservations()
	r, err := Start(h, c, nil, rs, limits.Nop{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return h, rs, r
}

func reserveOn(ctx context.Context, t *testing.T, c, relayHost host.Host) {
	t.Helper()
	if _, err := client.Reserve(ctx, c, peer.AddrInfo{ID: relayHost.ID(), Addrs: relayHost.Addrs()}); err != nil {
		t.Fatalf("reserve: %v", err)
	}
}

func TestExpiredReservationIsUnprotectedAndUncountedWhileConnected(t *testing.T) {
	const ttl = 3 * time.Second
	rh, rs, _ := relayOn(t, ttl)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h := testhost.NewClient(t)
	reserveOn(ctx, t, h, rh)
	if !rh.ConnManager().IsProtected(h.ID(), ProtectTag) || rs.Count() != 1 {
		t.Fatalf("after reserving: protected %v, count %d; want true, 1",
			rh.ConnManager().IsProtected(h.ID(), ProtectTag), rs.Count())
	}
	testhost.Eventually(t, "the unrenewed reservation to expire", func() bool {
		return !rh.ConnManager().IsProtected(h.ID(), ProtectTag) && rs.Count() == 0
	})
	if rh.Network().Connectedness(h.ID()) != network.Connected {
		t.Fatal("the peer disconnected: the test did not observe an expiry")
	}
}

func TestRenewedReservationOutlivesItsFirstExpiry(t *testing.T) {
	const ttl = 4 * time.Second
	rh, rs, _ := relayOn(t, ttl)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h := testhost.NewClient(t)
	reserveOn(ctx, t, h, rh)
	firstEnd := time.Now().Add(ttl) // the first grant expires before this
	time.Sleep(ttl / 2)
	renewed := time.Now() // the renewal expires after renewed + ttl
	reserveOn(ctx, t, h, rh)
	time.Sleep(time.Until(firstEnd) + 200*time.Millisecond)
	prot, n := rh.ConnManager().IsProtected(h.ID(), ProtectTag), rs.Count()
	if time.Now().After(renewed.Add(ttl)) {
		t.Skip("the renewal's expiry passed before the check")
	}
	if !prot || n != 1 {
		t.Fatalf("after the first grant expired, the renewed one: protected %v, count %d; want true, 1", prot, n)
	}
}

func TestClosingTheRelayEndsItsReservations(t *testing.T) {
	rh, rs, r := relayOn(t, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h := testhost.NewClient(t)
	reserveOn(ctx, t, h, rh)
	if !rh.ConnManager().IsProtected(h.ID(), ProtectTag) || rs.Count() != 1 {
		t.Fatal("the granted reservation is not protected and counted")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if rh.ConnManager().IsProtected(h.ID(), ProtectTag) || rs.Count() != 0 {
		t.Fatalf("after the relay closed: protected %v, count %d; want false, 0",
			rh.ConnManager().IsProtected(h.ID(), ProtectTag), rs.Count())
	}
}
