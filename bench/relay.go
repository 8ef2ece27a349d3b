package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
)

// SinkProtoID is the tool's own protocol: the receiver discards what it
// reads and, at EOF, answers with the byte count (8 bytes, big endian).
const SinkProtoID = "/rendezvous-bench/sink/1.0.0"

// RelayOptions sizes the relay scenario.
type RelayOptions struct {
	// Pairs lists the numbers of concurrent pairs to measure (default 1 and 8).
	Pairs []int
	// Duration is how long each measurement sends.
	Duration time.Duration
	// Chunk is the size of each write.
	Chunk int
}

func (o *RelayOptions) defaults() {
	if len(o.Pairs) == 0 {
		o.Pairs = []int{1, 8}
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Chunk <= 0 {
		o.Chunk = 64 << 10
	}
}

// Relay measures stream throughput between pairs of peers directly over /ws
// and through the node's circuit relay.
func Relay(ctx context.Context, t *Target, o RelayOptions) (*Report, error) {
	o.defaults()
	r := newReport("relay", t.Kind, map[string]any{
		"pairs": o.Pairs, "duration": o.Duration.String(), "chunk": o.Chunk,
	})
	for _, n := range o.Pairs {
		direct, relayed, nodeCPU, genCPU, err := relayRound(ctx, t, o, n)
		if err != nil {
			return nil, fmt.Errorf("%d pairs: %w", n, err)
		}
		r.add(fmt.Sprintf("direct, %d pairs", n), direct, "MiB/s")
		r.add(fmt.Sprintf("relayed, %d pairs", n), relayed, "MiB/s")
		r.add(fmt.Sprintf("relayed/direct, %d pairs", n), 100*relayed/direct, "%").target(">= 50 %", 50, false)
		f := r.add(fmt.Sprintf("node CPU while relaying, %d pairs", n), nodeCPU, "% of 1 core")
		if t.Shared {
			f.note("in-process node: includes the generator")
		}
		r.add(fmt.Sprintf("generator CPU while relaying, %d pairs", n), genCPU, "% of 1 core")
	}
	return r.finish(), nil
}

// relayRound sets up n receivers (listening, holding a reservation) and, for
// each, one sender that dials it directly and one that only knows its
// circuit address; then measures both paths in turn, all pairs at once.
func relayRound(ctx context.Context, t *Target, o RelayOptions, n int) (direct, relayed, nodeCPU, genCPU float64, err error) {
	keys, err := Keys("", 3*n)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	var hosts []host.Host
	defer func() {
		for _, h := range hosts {
			_ = h.Close()
		}
	}()
	mk := func(i int, listen bool) (host.Host, error) {
		h, err := NewPeer(keys[i], listen)
		if err == nil {
			hosts = append(hosts, h)
		}
		return h, err
	}
	recv := make([]host.Host, n)
	dsend := make([]host.Host, n)
	rsend := make([]host.Host, n)
	for i := range n {
		if recv[i], err = mk(3*i, true); err != nil {
			return
		}
		recv[i].SetStreamHandler(SinkProtoID, sink)
		if err = connect(ctx, recv[i], t.Info); err != nil {
			return
		}
		if _, err = client.Reserve(ctx, recv[i], t.Info); err != nil {
			return
		}
		if dsend[i], err = mk(3*i+1, false); err != nil {
			return
		}
		dsend[i].Peerstore().AddAddrs(recv[i].ID(), recv[i].Addrs(), peerstore.TempAddrTTL)
		if rsend[i], err = mk(3*i+2, false); err != nil {
			return
		}
		rsend[i].Peerstore().AddAddrs(recv[i].ID(), circuitAddrs(t.Info, recv[i].ID()), peerstore.TempAddrTTL)
	}
	var ns, gs [2]float64
	for k, senders := range [][]host.Host{dsend, rsend} {
		var rate float64
		if rate, ns[k], gs[k], err = transfer(ctx, t, senders, recv, o); err != nil {
			return
		}
		if k == 0 {
			direct = rate
		} else {
			relayed = rate
		}
	}
	return direct, relayed, ns[1], gs[1], nil
}

// transfer runs all pairs at once for o.Duration and returns the aggregate
// MiB/s and the CPU the node and the generator used meanwhile.
func transfer(ctx context.Context, t *Target, senders, recv []host.Host, o RelayOptions) (rate, nodeCPU, genCPU float64, err error) {
	// Connections first, so the timed part is only the transfer.
	streams := make([]network.Stream, len(senders))
	for i, s := range senders {
		sctx, cancel := context.WithTimeout(network.WithAllowLimitedConn(ctx, "bench"), 30*time.Second)
		streams[i], err = s.NewStream(sctx, recv[i].ID(), SinkProtoID)
		cancel()
		if err != nil {
			return 0, 0, 0, err
		}
	}
	n0, _ := sample(t.Node)
	g0, _ := SelfSampler{}.Sample()
	start := time.Now()
	deadline := start.Add(o.Duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total uint64
	var firstErr error
	for _, str := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := send(str, deadline, o.Chunk)
			mu.Lock()
			total += got
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	n1, nerr := sample(t.Node)
	g1, _ := SelfSampler{}.Sample()
	if firstErr != nil {
		return 0, 0, 0, firstErr
	}
	nodeCPU = math.NaN()
	if nerr == nil {
		nodeCPU = CPUPercent(n0, n1)
	}
	return float64(total) / (1 << 20) / elapsed.Seconds(), nodeCPU, CPUPercent(g0, g1), nil
}

// send writes until deadline, half-closes, and returns the count the
// receiver reports (what really crossed, not what sat in buffers).
func send(str network.Stream, deadline time.Time, chunk int) (uint64, error) {
	defer str.Reset()
	buf := make([]byte, chunk)
	_ = str.SetWriteDeadline(deadline.Add(30 * time.Second))
	for time.Now().Before(deadline) {
		if _, err := str.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := str.CloseWrite(); err != nil {
		return 0, err
	}
	_ = str.SetReadDeadline(time.Now().Add(30 * time.Second))
	var n [8]byte
	if _, err := io.ReadFull(str, n[:]); err != nil {
		return 0, fmt.Errorf("reading the receiver's count: %w", err)
	}
	return binary.BigEndian.Uint64(n[:]), nil
}

// sinkMaxDuration bounds a sink stream; the longest measurement is minutes.
const sinkMaxDuration = 30 * time.Minute

func sink(str network.Stream) {
	defer str.Close()
	_ = str.SetDeadline(time.Now().Add(sinkMaxDuration))
	n, err := io.Copy(io.Discard, str)
	if err != nil && !errors.Is(err, io.EOF) {
		_ = str.Reset()
		return
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	_, _ = str.Write(b[:])
}
