package node

import (
	"bufio"
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	pbv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	gproto "google.golang.org/protobuf/proto"

	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/node/relay"
)

// holdStops accepts every circuit the relay brings to h, by hand, and keeps
// it open until the other end goes.
func holdStops(h host.Host) {
	h.SetStreamHandler(proto.ProtoIDv2Stop, func(s network.Stream) {
		if _, err := framing.Read(bufio.NewReader(s), relay.HopMessageMax); err != nil {
			_ = s.Reset()
			return
		}
		b, _ := gproto.Marshal(&pbv2.StopMessage{Type: pbv2.StopMessage_STATUS.Enum(), Status: pbv2.Status_OK.Enum()})
		if _, err := s.Write(framing.Append(nil, b)); err != nil {
			_ = s.Reset()
			return
		}
		buf := make([]byte, 64)
		for {
			if _, err := s.Read(buf); err != nil {
				_ = s.Reset()
				return
			}
		}
	})
}

// connectThrough sends a CONNECT for dst through the node and returns the
// relay's status and the stream (the circuit when OK).
func connectThrough(t *testing.T, ctx context.Context, src host.Host, n *Node, dst peer.ID) (pbv2.Status, network.Stream) {
	t.Helper()
	s, err := src.NewStream(ctx, n.Host.ID(), proto.ProtoIDv2Hop)
	if err != nil {
		t.Fatalf("open hop stream: %v", err)
	}
	b, _ := gproto.Marshal(&pbv2.HopMessage{Type: pbv2.HopMessage_CONNECT.Enum(), Peer: &pbv2.Peer{Id: []byte(dst)}})
	if _, err := s.Write(framing.Append(nil, b)); err != nil {
		t.Fatalf("write CONNECT: %v", err)
	}
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	ans, err := framing.Read(bufio.NewReader(s), relay.HopMessageMax)
	if err != nil {
		t.Fatalf("read the relay's answer: %v", err)
	}
	var m pbv2.HopMessage
	if err := gproto.Unmarshal(ans, &m); err != nil {
		t.Fatal(err)
	}
	_ = s.SetReadDeadline(time.Time{})
	return m.GetStatus(), s
}

// TestActiveCircuitsAreHeldToTheCapWithAStatusAndReservationsStillWork: past
// relay.max_active_circuits a CONNECT is answered RESOURCE_LIMIT_EXCEEDED,
// reservations are still granted, and a circuit that ends frees its place.
// Before the cap, go-libp2p's relay let circuits fill its resource scope
// (2 × max_active_circuits + 1024 streams), after which reservations were
// reset too.
func TestActiveCircuitsAreHeldToTheCapWithAStatusAndReservationsStillWork(t *testing.T) {
	c := testConfig(t)
	c.Relay.MaxActiveCircuits = 3
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// Three targets, so that relay.max_circuits (16 per peer) is not what refuses.
	var targets []host.Host
	for range 3 {
		h := testhost.NewClient(t)
		reserve(t, ctx, h, n)
		holdStops(h)
		targets = append(targets, h)
	}
	src := testhost.NewClient(t)
	if err := src.Connect(ctx, nodeInfo(n)); err != nil {
		t.Fatal(err)
	}
	var circuits []network.Stream
	for i := range 3 {
		st, s := connectThrough(t, ctx, src, n, targets[i].ID())
		if st != pbv2.Status_OK {
			t.Fatalf("circuit %d: %v, want OK", i+1, st)
		}
		circuits = append(circuits, s)
	}
	if st, _ := connectThrough(t, ctx, src, n, targets[0].ID()); st != pbv2.Status_RESOURCE_LIMIT_EXCEEDED {
		t.Errorf("a 4th circuit with max_active_circuits 3: %v, want RESOURCE_LIMIT_EXCEEDED", st)
	}
	late := testhost.NewClient(t)
	reserve(t, ctx, late, n)

	_ = circuits[0].Reset()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, s := connectThrough(t, ctx, src, n, targets[0].ID())
		if st == pbv2.Status_OK {
			_ = s.Reset()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a circuit ended, but a new one is still refused: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
