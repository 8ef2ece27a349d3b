package node

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/ws-star/rendezvous/internal/testhost"
)

func TestConnectionManagerKeepsReservedPeersOverHighWatermark(t *testing.T) {
	c := testConfig(t)
	c.ConnManager.LowWater, c.ConnManager.HighWater = 2, 4
	c.ConnManager.GracePeriod = 0
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var reserved, plain []host.Host
	for range 6 {
		h := testhost.NewClient(t)
		reserve(t, ctx, h, n)
		reserved = append(reserved, h)
	}
	for range 6 {
		h := testhost.NewClient(t)
		if err := h.Connect(ctx, nodeInfo(n)); err != nil {
			t.Fatal(err)
		}
		plain = append(plain, h)
	}
	trimKeepsReserved(t, ctx, n, reserved, plain, func(i int) string { return fmt.Sprintf("reserved peer %d", i) })
}

// trimKeepsReserved trims the node's connections and checks that every
// reserved peer stayed connected while some plain one was trimmed.
func trimKeepsReserved(t *testing.T, ctx context.Context, n *Node, reserved, plain []host.Host, name func(i int) string) {
	t.Helper()
	n.Host.ConnManager().TrimOpenConns(ctx)
	for i, h := range reserved {
		if n.Host.Network().Connectedness(h.ID()) != network.Connected {
			t.Errorf("%s was trimmed", name(i))
		}
	}
	trimmed := 0
	for _, h := range plain {
		if n.Host.Network().Connectedness(h.ID()) != network.Connected {
			trimmed++
		}
	}
	if trimmed == 0 {
		t.Fatal("nothing was trimmed: the test did not exercise the connection manager")
	}
}

func TestUnbindableListenAddressFailsStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	c := testConfig(t)
	bad := "/ip4/127.0.0.1/tcp/" + itoa(port) + "/ws"
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws", bad}
	_, err = New(t.Context(), c)
	if err == nil {
		t.Fatal("start succeeded although a listen address was taken")
	}
	if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("error %q should name %s and the cause", err, bad)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
