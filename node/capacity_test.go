//go:build !race

// The race detector slows 1,000 in-process handshakes more than tenfold, so
// this runs in the suite's second, race-free pass (see test.sh).

package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/ws-star/rendezvous/internal/testhost"
)

func TestThousandClientsFromOneIPAllHoldReservationsWithDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 1,000 client hosts")
	}
	const clients = 1000
	n := startNode(t, testConfig(t))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	hosts := make([]host.Host, clients)
	for i := range hosts {
		hosts[i] = testhost.NewClient(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	sem := make(chan struct{}, 32)
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := h.Connect(ctx, nodeInfo(n)); err != nil {
				errs <- err
				return
			}
			if _, err := reserveErr(ctx, h, n); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed == 0 {
			t.Errorf("first failure: %v", err)
		}
		failed++
	}
	if failed > 0 {
		t.Fatalf("%d of %d clients failed to reserve", failed, clients)
	}
	if got := n.reservations.Count(); got != clients {
		t.Fatalf("node counts %d peers with reservations, want %d", got, clients)
	}
	connected := 0
	for _, h := range hosts {
		if n.Host.Network().Connectedness(h.ID()) == network.Connected {
			connected++
		}
	}
	if connected != clients {
		t.Fatalf("%d of %d reserved clients still connected", connected, clients)
	}
}
