package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/ws-star/rendezvous/internal/browserping"
	"github.com/ws-star/rendezvous/internal/framing"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/node/pings"
)

func pingStreams(t *testing.T, n *Node) int {
	v, _ := metric(t, n, "rendezvous_ping_streams_total", nil)
	return int(v)
}

// rawStream opens a stream to the node with no protocol negotiated: what
// the test writes is what the node reads.
func rawStream(t *testing.T, h host.Host, n *Node) network.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conns := h.Network().ConnsToPeer(n.Host.ID())
	if len(conns) == 0 {
		t.Fatal("not connected to the node")
	}
	s, err := conns[0].NewStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { _ = s.Reset() })
	return s
}

func connectedClient(t *testing.T, n *Node) host.Host {
	t.Helper()
	h := testhost.NewClient(t)
	if err := h.Connect(t.Context(), nodeInfo(n)); err != nil {
		t.Fatal(err)
	}
	return h
}

// readTokens reads multistream-select messages and returns them without
// their newline.
func readTokens(t *testing.T, r *bufio.Reader, count int) []string {
	t.Helper()
	var out []string
	for range count {
		tok, err := framing.Read(r, 1024)
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		out = append(out, string(bytes.TrimSuffix(tok, []byte("\n"))))
	}
	return out
}

func TestNodeAnswersJSLibp2pPingSequenceItself(t *testing.T) {
	n := startNode(t, testConfig(t))
	h := connectedClient(t, n)
	conn := h.Network().ConnsToPeer(n.Host.ID())[0]
	for i := range 5 {
		if err := browserping.Ping(t.Context(), conn); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
	if got := pingStreams(t, n); got != 5 {
		t.Fatalf("rendezvous_ping_streams_total = %d after 5 pings, want 5", got)
	}
}

func TestGoLibp2pPingClientKeepsPingingOnOneStream(t *testing.T) {
	n := startNode(t, testConfig(t))
	h := connectedClient(t, n)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// go-libp2p's client keeps pinging on one stream as fast as its results
	// are taken (kubo's ping takes one a second); from the second ping on
	// the node has moved the stream's deadline.
	results := ping.Ping(ctx, h, n.Host.ID())
	for i := range 4 {
		r := <-results
		if r.Error != nil {
			t.Fatalf("ping %d: %v", i, r.Error)
		}
		time.Sleep(300 * time.Millisecond)
	}
	cancel()
	if got := pingStreams(t, n); got != 1 {
		t.Fatalf("rendezvous_ping_streams_total = %d after one go-libp2p ping stream, want 1", got)
	}
}

func TestPingStreamsStayCappedPerPeerByTheResourceManager(t *testing.T) {
	n := startNode(t, testConfig(t))
	h := connectedClient(t, n)
	// go-libp2p's default: 2 inbound ping streams per peer. Two streams
	// that have negotiated and not pinged yet hold both.
	for i := range 2 {
		s := rawStream(t, h, n)
		if _, err := s.Write(browserping.Request); err != nil {
			t.Fatal(err)
		}
		got := readTokens(t, bufio.NewReader(s), 2)
		if got[1] != string(ping.ID) {
			t.Fatalf("stream %d: answered %q", i, got)
		}
	}
	third := rawStream(t, h, n)
	if _, err := third.Write(browserping.Request); err != nil {
		t.Fatal(err)
	}
	if _, err := third.Read(make([]byte, 1)); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("a third concurrent ping stream from one peer was served (read error %v), want a reset", err)
	}
}

func TestPingStreamEndsAfterItsCapOfEchoes(t *testing.T) {
	n := startNode(t, testConfig(t))
	h := connectedClient(t, n)
	s := rawStream(t, h, n)
	sent := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef"), pings.MaxPerStream+10)
	if _, err := s.Write(append(bytes.Clone(browserping.Request), sent...)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(s)
	readTokens(t, r, 2)
	echoed, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("after %d bytes of echo: %v", len(echoed), err)
	}
	if len(echoed) != pings.MaxPerStream*ping.PingSize || !bytes.Equal(echoed, sent[:len(echoed)]) {
		t.Fatalf("echoed %d bytes, want the first %d pings and the stream's end", len(echoed), pings.MaxPerStream)
	}
}

func TestStreamsThatAreNotPingRequestsReachTheHost(t *testing.T) {
	n := startNode(t, testConfig(t))
	h := connectedClient(t, n)

	t.Run("header alone, protocol after the node's header", func(t *testing.T) {
		s := rawStream(t, h, n)
		if _, err := s.Write(framing.Append(nil, []byte(browserping.Multistream+"\n"))); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(s)
		if got := readTokens(t, r, 1); got[0] != browserping.Multistream {
			t.Fatalf("answered %q", got)
		}
		if _, err := s.Write(framing.Append(nil, []byte(ping.ID+"\n"))); err != nil {
			t.Fatal(err)
		}
		if got := readTokens(t, r, 1); got[0] != string(ping.ID) {
			t.Fatalf("answered %q", got)
		}
		out := []byte("0123456789abcdef0123456789abcdef")
		if _, err := s.Write(out); err != nil {
			t.Fatal(err)
		}
		in := make([]byte, len(out))
		if _, err := io.ReadFull(r, in); err != nil || !bytes.Equal(in, out) {
			t.Fatalf("echo %q, %v", in, err)
		}
	})
	t.Run("unknown protocol", func(t *testing.T) {
		s := rawStream(t, h, n)
		req := framing.Append(framing.Append(nil, []byte(browserping.Multistream+"\n")), []byte("/no/such/1.0.0\n"))
		if _, err := s.Write(req); err != nil {
			t.Fatal(err)
		}
		if got := readTokens(t, bufio.NewReader(s), 2); got[1] != "na" {
			t.Fatalf("answered %q, want na", got)
		}
	})
	if got := pingStreams(t, n); got != 0 {
		t.Fatalf("rendezvous_ping_streams_total = %d, want 0: these streams went to the host", got)
	}
}
