package node

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/testhost"
)

const sinkProto = "/test/sink/1.0.0"

// benchmarkThroughput streams b.N chunks of 1 MiB from src to dst, where dst
// discards them and answers with one byte at the end.
func benchmarkThroughput(b *testing.B, src host.Host, dst peer.ID) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := src.NewStream(ctx, dst, sinkProto)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Reset()
	chunk := make([]byte, 1<<20)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		if _, err := s.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
}

func serveSink(h host.Host) {
	h.SetStreamHandler(sinkProto, func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		_, _ = s.Write([]byte{1})
		_ = s.Close()
	})
}

// BenchmarkThroughput compares a stream between two peers through the
// node's relay with the same two peers connected directly over /ws.
// Compare the MB/s of the two sub-benchmarks:
//
//	go test ./node -run '^$' -bench Throughput -benchtime 200x -count 5
func BenchmarkThroughput(b *testing.B) {
	n := startNode(b, testConfig(b))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	b.Run("direct", func(b *testing.B) {
		src := testhost.NewClient(b)
		dst := testhost.New(b)
		serveSink(dst)
		testhost.Connect(b, src, dst)
		benchmarkThroughput(b, src, dst.ID())
	})
	b.Run("relayed", func(b *testing.B) {
		src := testhost.NewClient(b)
		dst := testhost.NewClient(b)
		serveSink(dst)
		reserve(b, ctx, dst, n)
		addr, _ := ma.NewMultiaddr(circuitAddr(b, n).String() + "/p2p/" + dst.ID().String())
		info, _ := peer.AddrInfoFromP2pAddr(addr)
		if err := src.Connect(ctx, *info); err != nil {
			b.Fatal(err)
		}
		benchmarkThroughput(b, src, dst.ID())
	})
}
