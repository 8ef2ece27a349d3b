package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/internal/testhost"
)

const echoProto = "/test/echo/1.0.0"

// testConfig is the default configuration on a free loopback port with a
// fresh identity.
func testConfig(t testing.TB) config.Config {
	t.Helper()
	c := config.Default()
	c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws"}
	c.Identity.KeyFile = filepath.Join(t.TempDir(), "identity.key")
	return c
}

func startNode(t testing.TB, c config.Config) *Node {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	n, err := New(t.Context(), c)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

func nodeInfo(n *Node) peer.AddrInfo {
	return peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()}
}

// reserve connects h to the node and takes a relay slot.
func reserve(t testing.TB, ctx context.Context, h host.Host, n *Node) *client.Reservation {
	t.Helper()
	if err := h.Connect(ctx, nodeInfo(n)); err != nil {
		t.Fatalf("connect to node: %v", err)
	}
	r, err := reserveErr(ctx, h, n)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	return r
}

func reserveErr(ctx context.Context, h host.Host, n *Node) (*client.Reservation, error) {
	return client.Reserve(ctx, h, nodeInfo(n))
}

func circuitAddr(t testing.TB, n *Node) ma.Multiaddr {
	t.Helper()
	a, err := ma.NewMultiaddr(n.Host.Addrs()[0].String() + "/p2p/" + n.Host.ID().String() + "/p2p-circuit")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func serveEcho(h host.Host) {
	h.SetStreamHandler(echoProto, func(s network.Stream) {
		defer s.Close()
		_, _ = io.Copy(s, s)
	})
}

// echoThrough sends size random bytes to dst over a new stream from src and
// checks that the same bytes come back.
func echoThrough(t testing.TB, ctx context.Context, src host.Host, dst peer.ID, size int) {
	t.Helper()
	s, err := src.NewStream(ctx, dst, echoProto)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	defer s.Reset()
	_ = s.SetDeadline(time.Now().Add(2 * time.Minute))
	data := make([]byte, size)
	_, _ = rand.Read(data)
	go func() {
		_, _ = s.Write(data)
		_ = s.CloseWrite()
	}()
	got := sha256.New()
	nread, err := io.Copy(got, s)
	if err != nil {
		t.Fatalf("read echo after %d bytes: %v", nread, err)
	}
	want := sha256.Sum256(data)
	if nread != int64(size) || !bytes.Equal(got.Sum(nil), want[:]) {
		t.Fatalf("echo: got %d bytes (hash match %v), want %d", nread, bytes.Equal(got.Sum(nil), want[:]), size)
	}
}

func TestRelayedConnectionIsUnlimitedAndCarries8MiB(t *testing.T) {
	n := startNode(t, testConfig(t))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	a := testhost.NewClient(t)
	b := testhost.NewClient(t)
	serveEcho(a)
	reserve(t, ctx, a, n)

	dst, err := ma.NewMultiaddr(circuitAddr(t, n).String() + "/p2p/" + a.ID().String())
	if err != nil {
		t.Fatal(err)
	}
	info, err := peer.AddrInfoFromP2pAddr(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx, *info); err != nil {
		t.Fatalf("dial through relay: %v", err)
	}
	conns := b.Network().ConnsToPeer(a.ID())
	if len(conns) == 0 {
		t.Fatal("no connection to A")
	}
	if conns[0].Stat().Limited {
		t.Fatal("relayed connection is limited; the default must be unlimited")
	}
	// No WithAllowLimitedConn: a limited connection would block here.
	echoThrough(t, ctx, b, a.ID(), 8<<20)
}

func TestRelayLimitsApplyWhenConfigured(t *testing.T) {
	c := testConfig(t)
	c.Relay.LimitDuration = config.Duration(time.Minute)
	c.Relay.LimitData = 1 << 16
	n := startNode(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	a := testhost.NewClient(t)
	b := testhost.NewClient(t)
	reserve(t, ctx, a, n)
	dst, _ := ma.NewMultiaddr(circuitAddr(t, n).String() + "/p2p/" + a.ID().String())
	info, _ := peer.AddrInfoFromP2pAddr(dst)
	if err := b.Connect(ctx, *info); err != nil {
		t.Fatalf("dial through relay: %v", err)
	}
	conns := b.Network().ConnsToPeer(a.ID())
	if len(conns) == 0 || !conns[0].Stat().Limited {
		t.Fatal("with relay limits configured the relayed connection must be limited")
	}
}
