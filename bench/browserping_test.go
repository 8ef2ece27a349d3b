package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/ws-star/rendezvous/internal/testhost"
)

// Pacing of BenchmarkPingStream: pingConns connections each pinging every
// pingPeriod, 1,000 ping streams a second in all. A paced load, not one as
// fast as possible, is what a node serving browsers sees: back to back, one
// wake-up of the node would serve several pings and flatter the figure.
const (
	pingConns  = 100
	pingPeriod = 100 * time.Millisecond
)

// BenchmarkPingStream measures what one ping stream costs the node: the
// node binary runs in its own process, 100 go-libp2p hosts connect to it
// over loopback WebSockets and open ping streams at 1,000 a second in all,
// either with js-libp2p's frame sequence (what every browser's connection
// monitor sends every 10 s) or with go-libp2p's ping client. Reported per
// ping stream: the node's CPU time from /proc (user + system, so it includes
// the kernel's loopback TCP work), its allocations from its /metrics and its
// read and write system calls. ns/op is the pacing (1 ms), not a cost.
// RENDEZVOUS_BIN names another node binary to measure (the one before a
// change).
//
//	go test ./bench -run '^$' -bench PingStream -benchtime 10000x -count 3
func BenchmarkPingStream(b *testing.B) {
	bin := nodeBinary(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	tg, err := StartTarget(ctx, TargetOptions{Dir: b.TempDir(), Binary: bin})
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	if tg.Node == nil || tg.MetricsURL == "" {
		b.Fatal("the node process has no sampler or no /metrics")
	}
	targets := make([]pingTarget, pingConns)
	for i := range targets {
		h := testhost.NewClient(b)
		if err := h.Connect(ctx, tg.Info); err != nil {
			b.Fatal(err)
		}
		targets[i] = pingTarget{h: h, node: tg.Info.ID}
	}
	kinds := []struct {
		name string
		ping func(context.Context, host.Host, peer.ID) error
	}{
		{"js-libp2p", pingOnce},
		{"go-libp2p", goLibp2pPing},
	}
	for _, k := range kinds {
		// Every connection pings once first: identify is done and the
		// node's paths are warm before anything is counted.
		for _, t := range targets {
			if err := k.ping(ctx, t.h, t.node); err != nil {
				b.Fatalf("%s ping: %v", k.name, err)
			}
		}
		b.Run(k.name, func(b *testing.B) { benchmarkPings(b, ctx, tg, targets, k.ping) })
	}
}

func benchmarkPings(b *testing.B, ctx context.Context, tg *Target, targets []pingTarget, fn func(context.Context, host.Host, peer.ID) error) {
	allocs := func() (n, bytes float64) {
		n, err := scrapeGauge(tg.MetricsURL, "go_memstats_mallocs_total")
		if err != nil {
			b.Fatal(err)
		}
		if bytes, err = scrapeGauge(tg.MetricsURL, "go_memstats_alloc_bytes_total"); err != nil {
			b.Fatal(err)
		}
		return n, bytes
	}
	before, err := tg.Node.Sample()
	if err != nil {
		b.Fatal(err)
	}
	pid := tg.Node.(ProcSampler).PID
	r0, w0 := syscallCounts(b, pid)
	m0, by0 := allocs()
	b.ResetTimer()
	sent, firstErr := pacedPings(ctx, b.N, targets, fn)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	after, err := tg.Node.Sample()
	if err != nil {
		b.Fatal(err)
	}
	m1, by1 := allocs()
	r1, w1 := syscallCounts(b, pid)
	b.ReportMetric(float64((after.CPU-before.CPU).Microseconds())/float64(sent), "node-µs/ping")
	b.ReportMetric((m1-m0)/float64(sent), "node-allocs/ping")
	b.ReportMetric((by1-by0)/float64(sent), "node-B/ping")
	b.ReportMetric(float64(r1-r0)/float64(sent), "node-reads/ping")
	b.ReportMetric(float64(w1-w0)/float64(sent), "node-writes/ping")
}

// syscallCounts reads the read and write system calls a process has made
// (syscr and syscw of /proc/<pid>/io): each yamux frame the node sends is
// one write, whatever the load, where CPU time varies with it.
func syscallCounts(b *testing.B, pid int) (reads, writes int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			continue
		case name == "syscr":
			reads = n
		case name == "syscw":
			writes = n
		}
	}
	return reads, writes
}

// pacedPings makes n pings in all, each target pinging every pingPeriod
// (the targets staggered over it), one ping in flight per target as a
// browser's monitor has; a ping that takes longer delays that target's
// next. It returns the pings made and the first error.
func pacedPings(ctx context.Context, n int, targets []pingTarget, fn func(context.Context, host.Host, peer.ID) error) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		made     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(pingPeriod * time.Duration(i) / time.Duration(len(targets)))
			for {
				if err := sleep(ctx, time.Until(next)); err != nil {
					return
				}
				if made.Add(1) > int64(n) {
					cancel()
					return
				}
				if err := fn(ctx, t.h, t.node); err != nil && ctx.Err() == nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				next = next.Add(pingPeriod)
			}
		}()
	}
	wg.Wait()
	return min(made.Load(), int64(n)), firstErr
}

// goLibp2pPing is one ping as go-libp2p's ping client makes it: a stream
// through the host (multistream-select sent with the first data), 32 bytes,
// their echo, then a close that waits for the node's.
func goLibp2pPing(ctx context.Context, h host.Host, node peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	str, err := h.NewStream(network.WithAllowLimitedConn(ctx, "ping"), node, ping.ID)
	if err != nil {
		return err
	}
	_ = str.SetDeadline(time.Now().Add(10 * time.Second))
	var out, in [ping.PingSize]byte
	_, _ = rand.Read(out[:])
	if _, err := str.Write(out[:]); err != nil {
		_ = str.Reset()
		return err
	}
	if _, err := io.ReadFull(str, in[:]); err != nil {
		_ = str.Reset()
		return err
	}
	// Wait for the node's end of the stream: until then the stream counts
	// against the peer's two ping streams, and a loaded node could still
	// hold it when the next ping comes.
	if err := str.CloseWrite(); err != nil {
		_ = str.Reset()
		return err
	}
	if _, err := str.Read(in[:1]); !errors.Is(err, io.EOF) {
		_ = str.Reset()
		return fmt.Errorf("the node did not end the stream after the echo: %v", err)
	}
	return str.Close()
}

// TestBrowserPingIsAnsweredByTheNode guards the sequence the bench's
// browser-like peers send: the node answers both multistream messages and
// echoes the ping, for js-libp2p's sequence and go-libp2p's client alike.
func TestBrowserPingIsAnsweredByTheNode(t *testing.T) {
	tg := startNode(t)
	h := testhost.NewClient(t)
	if err := h.Connect(t.Context(), tg.Info); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := pingOnce(t.Context(), h, tg.Info.ID); err != nil {
			t.Fatalf("js-libp2p sequence: %v", err)
		}
		if err := goLibp2pPing(t.Context(), h, tg.Info.ID); err != nil {
			t.Fatalf("go-libp2p client: %v", err)
		}
	}
}
